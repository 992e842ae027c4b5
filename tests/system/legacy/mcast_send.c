/* mcast_send: an unmodified "legacy" IP multicast sender.
 *
 * Uses nothing but the classic socket API: socket(), IP_MULTICAST_TTL,
 * optionally IP_MULTICAST_IF and IP_MULTICAST_LOOP, and sendto() on a class-D
 * address. It knows nothing of Canopy; tests and benchmarks use it as the kind
 * of program a gateway must carry across LANs.
 *
 *   mcast_send [--ttl N] [--count N] [--rate PPS] [--size BYTES]
 *              [--interface ADDR] [--no-loop] GROUP PORT
 *
 * Sends COUNT (default 10) datagrams to GROUP:PORT, at most RATE (default 100)
 * per second, each SIZE bytes (default 64, at least 32) with payload
 *   "CANOPY-LEGACY seq=NNNNNNNNNN " followed by the pattern 'a' + i % 26
 * (sequence numbers start at 1). GROUP may also be a unicast address: then it
 * is a plain UDP sender (the lab's unicast checks use that).
 *
 * A failed sendto() (e.g. EPERM when a firewall drops multicast) is counted,
 * not fatal. Last line on stderr:
 *   "mcast_send: sent S of C datagrams to GROUP:PORT (F failed[: ERROR])".
 * Exit code: 0 every datagram was sent, 1 some send failed, 2 bad command line.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/system/legacy/cli.h"
#include "tests/system/legacy/payload.h"

static const char kProgram[] = "mcast_send";

static void sleep_until(const struct timespec* t) {
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR) {
  }
}

int main(int argc, char** argv) {
  long ttl = 1, count = 10, rate = 100, size = 64;
  const char* interface = NULL;
  int loop = 1;
  const char* positional[2];
  int npos = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      printf(
          "usage: mcast_send [--ttl N] [--count N] [--rate PPS] [--size BYTES] "
          "[--interface ADDR] [--no-loop] GROUP PORT\n");
      return 0;
    } else if (strcmp(a, "--no-loop") == 0) {
      loop = 0;
    } else if (strncmp(a, "--", 2) == 0) {
      if (i + 1 >= argc) {
        legacy_usage_arg(kProgram, "option '%.100s' needs a value", a);
      }
      const char* v = argv[++i];
      if (strcmp(a, "--ttl") == 0)
        ttl = legacy_parse_long(kProgram, v, 0, 255, "--ttl");
      else if (strcmp(a, "--count") == 0)
        count = legacy_parse_long(kProgram, v, 1, 100000000, "--count");
      else if (strcmp(a, "--rate") == 0)
        rate = legacy_parse_long(kProgram, v, 1, 1000000, "--rate");
      else if (strcmp(a, "--size") == 0)
        size = legacy_parse_long(kProgram, v, kLegacyMinSize, kLegacyMaxSize, "--size");
      else if (strcmp(a, "--interface") == 0)
        interface = v;
      else {
        legacy_usage_arg(kProgram, "unknown option '%.100s'", a);
      }
    } else {
      if (npos == 2) legacy_usage(kProgram, "too many arguments");
      positional[npos++] = a;
    }
  }
  if (npos != 2) legacy_usage(kProgram, "needs GROUP and PORT");
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, positional[0], &to.sin_addr) != 1)
    legacy_usage(kProgram, "bad GROUP address");
  to.sin_port = htons((unsigned short)legacy_parse_long(kProgram, positional[1], 1, 65535, "PORT"));

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("mcast_send: socket");
    return 1;
  }
  unsigned char ttl_byte = (unsigned char)ttl;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl_byte, sizeof ttl_byte) != 0) {
    perror("mcast_send: IP_MULTICAST_TTL");
    return 1;
  }
  unsigned char loop_byte = (unsigned char)loop;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop_byte, sizeof loop_byte) != 0) {
    perror("mcast_send: IP_MULTICAST_LOOP");
    return 1;
  }
  if (interface != NULL) {
    struct in_addr ifaddr;
    if (inet_pton(AF_INET, interface, &ifaddr) != 1)
      legacy_usage(kProgram, "bad --interface address");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr) != 0) {
      perror("mcast_send: IP_MULTICAST_IF");
      return 1;
    }
  }

  char buf[kLegacyMaxSize];
  long sent = 0, failed = 0;
  int last_errno = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  const long interval_ns = 1000000000L / rate;
  for (long seq = 1; seq <= count; ++seq) {
    size_t n = legacy_payload((unsigned long)seq, buf, (size_t)size);
    if (sendto(fd, buf, n, 0, (struct sockaddr*)&to, sizeof to) == (ssize_t)n) {
      ++sent;
    } else {
      ++failed;
      last_errno = errno;
    }
    next.tv_nsec += interval_ns;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec += 1;
    }
    if (seq < count) sleep_until(&next);
  }
  close(fd);
  if (failed > 0) {
    fprintf(stderr, "mcast_send: sent %ld of %ld datagrams to %s:%s (%ld failed: %s)\n", sent,
            count, positional[0], positional[1], failed, strerror(last_errno));
    return 1;
  }
  fprintf(stderr, "mcast_send: sent %ld of %ld datagrams to %s:%s (0 failed)\n", sent, count,
          positional[0], positional[1]);
  return 0;
}
