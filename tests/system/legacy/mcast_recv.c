/* mcast_recv: an unmodified "legacy" IP multicast receiver.
 *
 * Uses nothing but the classic socket API: bind() to GROUP:PORT and
 * IP_ADD_MEMBERSHIP (optionally on the interface with address ADDR), or with
 * --source SRC IP_ADD_SOURCE_MEMBERSHIP (an IGMPv3 INCLUDE {SRC} filter, as
 * source-specific multicast receivers do). It knows nothing of Canopy.
 *
 *   mcast_recv [--count N] [--idle-ms MS] [--timeout-ms MS] [--interface ADDR]
 *              [--source SRC] GROUP PORT
 *
 * Prints on stderr "mcast_recv: joined GROUP:PORT" once it is a member (start
 * senders after that line), then on stdout one line per datagram, flushed:
 *   "seq N from ADDR"             a whole payload of mcast_send (ADDR: sender IP)
 *   "bad N bytes from ADDR"       anything else
 * It exits after COUNT datagrams (if given), after IDLE ms (default 5000)
 * without a datagram, or after TIMEOUT ms (default 60000) in all: always
 * bounded. GROUP may also be a unicast address: then it binds PORT on every
 * address and joins nothing (a plain UDP receiver).
 *
 * Last line on stderr: "mcast_recv: received N datagram(s) (B bad)".
 * Exit code: 0 when COUNT datagrams arrived (or no --count was given), 1 when
 * it stopped early (idle or timeout), 2 bad command line.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/system/legacy/cli.h"
#include "tests/system/legacy/payload.h"

static const char kProgram[] = "mcast_recv";

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char** argv) {
  long count = 0, idle_ms = 5000, timeout_ms = 60000;
  const char* interface = NULL;
  const char* source = NULL;
  const char* positional[2];
  int npos = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      printf(
          "usage: mcast_recv [--count N] [--idle-ms MS] [--timeout-ms MS] [--interface ADDR] "
          "[--source SRC] GROUP PORT\n");
      return 0;
    } else if (strncmp(a, "--", 2) == 0) {
      if (i + 1 >= argc) {
        legacy_usage_arg(kProgram, "option '%.100s' needs a value", a);
      }
      const char* v = argv[++i];
      if (strcmp(a, "--count") == 0)
        count = legacy_parse_long(kProgram, v, 1, 100000000, "--count");
      else if (strcmp(a, "--idle-ms") == 0)
        idle_ms = legacy_parse_long(kProgram, v, 1, 3600000, "--idle-ms");
      else if (strcmp(a, "--timeout-ms") == 0)
        timeout_ms = legacy_parse_long(kProgram, v, 1, 3600000, "--timeout-ms");
      else if (strcmp(a, "--interface") == 0)
        interface = v;
      else if (strcmp(a, "--source") == 0)
        source = v;
      else {
        legacy_usage_arg(kProgram, "unknown option '%.100s'", a);
      }
    } else {
      if (npos == 2) legacy_usage(kProgram, "too many arguments");
      positional[npos++] = a;
    }
  }
  if (npos != 2) legacy_usage(kProgram, "needs GROUP and PORT");
  struct in_addr group;
  if (inet_pton(AF_INET, positional[0], &group) != 1) legacy_usage(kProgram, "bad GROUP address");
  const unsigned short port =
      (unsigned short)legacy_parse_long(kProgram, positional[1], 1, 65535, "PORT");
  const int multicast = IN_MULTICAST(ntohl(group.s_addr));

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("mcast_recv: socket");
    return 1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_port = htons(port);
  /* Bound to the group, the socket sees only that group's datagrams. */
  local.sin_addr.s_addr = multicast ? group.s_addr : htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr*)&local, sizeof local) != 0) {
    perror("mcast_recv: bind");
    return 1;
  }
  if (multicast && source != NULL) {
    struct ip_mreq_source mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.imr_multiaddr = group;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (interface != NULL && inet_pton(AF_INET, interface, &mreq.imr_interface) != 1) {
      legacy_usage(kProgram, "bad --interface address");
    }
    if (inet_pton(AF_INET, source, &mreq.imr_sourceaddr) != 1) {
      legacy_usage(kProgram, "bad --source address");
    }
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      perror("mcast_recv: IP_ADD_SOURCE_MEMBERSHIP");
      return 1;
    }
    fprintf(stderr, "mcast_recv: joined %s:%s for source %s\n", positional[0], positional[1],
            source);
  } else if (multicast) {
    struct ip_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.imr_multiaddr = group;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (interface != NULL && inet_pton(AF_INET, interface, &mreq.imr_interface) != 1) {
      legacy_usage(kProgram, "bad --interface address");
    }
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      perror("mcast_recv: IP_ADD_MEMBERSHIP");
      return 1;
    }
    fprintf(stderr, "mcast_recv: joined %s:%s\n", positional[0], positional[1]);
  } else {
    fprintf(stderr, "mcast_recv: joined %s:%s (unicast, no membership)\n", positional[0],
            positional[1]);
  }
  fflush(stderr);

  static char buf[kLegacyMaxSize + 1];
  long received = 0, bad = 0;
  const long long deadline = now_ms() + timeout_ms;
  long long last = now_ms();
  while (count == 0 || received < count) {
    const long long now = now_ms();
    long long wait = last + idle_ms - now;
    if (deadline - now < wait) wait = deadline - now;
    if (wait <= 0) break;
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int r = poll(&p, 1, (int)wait);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      perror("mcast_recv: poll");
      return 1;
    }
    if (r == 0) continue; /* the loop head sees the idle or overall deadline */
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      perror("mcast_recv: recvfrom");
      return 1;
    }
    last = now_ms();
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
    unsigned long seq;
    if (legacy_parse(buf, (size_t)n, &seq)) {
      ++received;
      printf("seq %lu from %s\n", seq, addr);
    } else {
      ++bad;
      printf("bad %zd bytes from %s\n", n, addr);
    }
    fflush(stdout);
  }
  close(fd);
  fprintf(stderr, "mcast_recv: received %ld datagram(s) (%ld bad)\n", received, bad);
  return (count == 0 || received >= count) ? 0 : 1;
}
