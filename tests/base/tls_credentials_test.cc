// Loading TLS files (with certificates made by scripts/make-certs), reading
// certificate subjects, role checks, and the TLS flag rules.

#include "base/tls_credentials.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A self-signed certificate (and its key) that expired a day ago, made with
// OpenSSL's API: scripts/make-certs cannot make one.
void WriteExpiredCertificate(const fs::path& cert_path, const fs::path& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -2 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("node"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("old"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class TlsCredentialsTest : public ::testing::Test {
 protected:
  // One set of certificates for every test: the script takes a moment.
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / absl::StrCat("canopy-tls-test-", getpid()));
    fs::create_directories(*dir_);
    const std::string command =
        absl::StrCat(CANOPY_SOURCE_DIR "/scripts/make-certs '", dir_->string(),
                     "' --node node-a --publisher trainer --operator alice >/dev/null");
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete dir_;
  }

  static fs::path File(const std::string& name) { return *dir_ / name; }
  static TlsFiles NodeFiles() {
    return TlsFiles{File("ca.crt"), File("node-node-a.crt"), File("node-node-a.key")};
  }

  static fs::path* dir_;
};

fs::path* TlsCredentialsTest::dir_ = nullptr;

TEST_F(TlsCredentialsTest, LoadsWhatMakeCertsWrites) {
  absl::StatusOr<TlsPem> pem = LoadTlsFiles(NodeFiles());
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_THAT(pem->ca, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(pem->cert, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(pem->key, HasSubstr("PRIVATE KEY-----"));
  EXPECT_NE(TlsServerCredentials(*pem), nullptr);
  EXPECT_NE(TlsChannelCredentials(*pem), nullptr);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channel =
      ChannelCredentialsFor(NodeFiles());
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_NE(*channel, nullptr);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> plaintext =
      ChannelCredentialsFor(std::nullopt);
  ASSERT_TRUE(plaintext.ok());
  EXPECT_NE(*plaintext, nullptr);
}

TEST_F(TlsCredentialsTest, MissingFileIsNamed) {
  TlsFiles files = NodeFiles();
  files.cert = File("nope.crt");
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(s.message(), HasSubstr("--tls-cert"));
  EXPECT_THAT(s.message(), HasSubstr(File("nope.crt").string()));
  // ChannelCredentialsFor reports the same.
  EXPECT_EQ(ChannelCredentialsFor(files).status(), s);
}

TEST_F(TlsCredentialsTest, DirectoryIsNotAFile) {
  TlsFiles files = NodeFiles();
  files.ca = dir_->string();
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("--tls-ca"));
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
}

TEST_F(TlsCredentialsTest, UnreadableFileIsNamed) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  const fs::path locked = File("locked.key");
  fs::copy_file(File("node-node-a.key"), locked, fs::copy_options::overwrite_existing);
  fs::permissions(locked, fs::perms::none);
  TlsFiles files = NodeFiles();
  files.key = locked;
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(locked.string()));
}

TEST_F(TlsCredentialsTest, GarbageIsNotPem) {
  const fs::path garbage = File("garbage.pem");
  WriteText(garbage, "this is not a certificate\n\x01\x02\x03");
  for (std::string TlsFiles::*field : {&TlsFiles::ca, &TlsFiles::cert, &TlsFiles::key}) {
    TlsFiles files = NodeFiles();
    files.*field = garbage;
    absl::Status s = LoadTlsFiles(files).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(s.message(), HasSubstr(garbage.string()));
    EXPECT_THAT(s.message(), HasSubstr("holds no PEM"));
  }
  // An empty file, and a truncated certificate.
  const fs::path empty = File("empty.pem");
  WriteText(empty, "");
  TlsFiles files = NodeFiles();
  files.cert = empty;
  EXPECT_THAT(LoadTlsFiles(files).status().message(), HasSubstr("holds no PEM certificate"));
  const std::string cert = ReadText(File("node-node-a.crt"));
  const fs::path truncated = File("truncated.crt");
  WriteText(truncated, cert.substr(0, cert.size() / 2));
  files.cert = truncated;
  EXPECT_THAT(LoadTlsFiles(files).status().message(), HasSubstr("holds no PEM certificate"));
}

TEST_F(TlsCredentialsTest, KeyAndCertificateMustBelongTogether) {
  TlsFiles files = NodeFiles();
  files.key = File("publisher-trainer.key");
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("is not the key of the certificate"));
  // A certificate where the key belongs, and the other way round.
  files = NodeFiles();
  files.key = File("node-node-a.crt");
  EXPECT_THAT(LoadTlsFiles(files).status().message(), HasSubstr("holds no PEM private key"));
  files = NodeFiles();
  files.cert = File("node-node-a.key");
  EXPECT_THAT(LoadTlsFiles(files).status().message(), HasSubstr("holds no PEM certificate"));
}

TEST_F(TlsCredentialsTest, EncryptedKeyIsRefusedWithoutPrompting) {
  const fs::path encrypted = File("encrypted.key");
  const std::string command =
      absl::StrCat("openssl pkey -in '", File("node-node-a.key").string(),
                   "' -aes256 -passout pass:secret -out '", encrypted.string(), "'");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  TlsFiles files = NodeFiles();
  files.key = encrypted;
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("encrypted"));
}

TEST_F(TlsCredentialsTest, ExpiredCertificateIsRefused) {
  WriteExpiredCertificate(File("expired.crt"), File("expired.key"));
  TlsFiles files{File("ca.crt"), File("expired.crt"), File("expired.key")};
  absl::Status s = LoadTlsFiles(files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("expired"));
  EXPECT_THAT(s.message(), HasSubstr(File("expired.crt").string()));
}

TEST_F(TlsCredentialsTest, HugeFileIsRefused) {
  const fs::path huge = File("huge.pem");
  WriteText(huge, std::string((1 << 20) + 1, 'A'));
  TlsFiles files = NodeFiles();
  files.ca = huge;
  EXPECT_THAT(LoadTlsFiles(files).status().message(), HasSubstr("larger than"));
}

TEST_F(TlsCredentialsTest, SubjectsCarryRoleAndName) {
  struct Case {
    std::string file, unit, name;
  } cases[] = {
      {"controller.crt", "controller", "controller"},
      {"node-node-a.crt", "node", "node-a"},
      {"publisher-trainer.crt", "publisher", "trainer"},
      {"operator-alice.crt", "operator", "alice"},
      {"ca.crt", "ca", "Canopy local CA"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CertificateSubject> subject = SubjectOfCertificate(ReadText(File(c.file)));
    ASSERT_TRUE(subject.ok()) << c.file << ": " << subject.status();
    EXPECT_EQ(subject->unit, c.unit) << c.file;
    EXPECT_EQ(subject->common_name, c.name) << c.file;
  }
  EXPECT_FALSE(SubjectOfCertificate("").ok());
  EXPECT_FALSE(SubjectOfCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n").ok());
}

TEST(RequireRoleTest, NamesTheActionAndWhatWasPresented) {
  const CertificateSubject node{"node-a", "node"};
  EXPECT_TRUE(RequireRole(node, {kRoleNode}, "Attach").ok());
  EXPECT_TRUE(RequireRole(node, {kRoleOperator, kRoleNode}, "ListNodes").ok());
  absl::Status s = RequireRole(node, {kRoleOperator}, "SetPolicy");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "SetPolicy needs a certificate with OU=operator; this one has OU=node, CN=node-a");
  s = RequireRole(CertificateSubject{"x", ""}, {kRoleOperator, kRoleNode}, "GetTree");
  EXPECT_EQ(s.message(),
            "GetTree needs a certificate with OU=operator or OU=node; this one has OU=(none), "
            "CN=x");
}

TEST(TlsFlagsTest, AllThreeOrNone) {
  TlsFlags flags;
  absl::StatusOr<std::optional<TlsFiles>> tls = ResolveTlsFlags(flags);
  ASSERT_TRUE(tls.ok());
  EXPECT_FALSE(tls->has_value());

  flags.files = {"ca.crt", "me.crt", "me.key"};
  tls = ResolveTlsFlags(flags);
  ASSERT_TRUE(tls.ok());
  ASSERT_TRUE(tls->has_value());
  EXPECT_EQ((*tls)->cert, "me.crt");

  flags.files = {"ca.crt", "", ""};
  tls = ResolveTlsFlags(flags);
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.status().message(), HasSubstr("go together: missing --tls-cert and --tls-key"));
  flags.files = {"", "me.crt", "me.key"};
  EXPECT_THAT(ResolveTlsFlags(flags).status().message(), HasSubstr("missing --tls-ca"));
}

TEST(TlsFlagsTest, PlaintextExcludesFiles) {
  TlsFlags flags;
  flags.plaintext = true;
  flags.files = {"ca.crt", "me.crt", "me.key"};
  absl::Status s = ResolveTlsFlags(flags).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--plaintext excludes"));
  EXPECT_FALSE(ResolveServerTlsFlags(flags, "127.0.0.1").ok());
}

TEST(TlsFlagsTest, PlaintextServersStayOnLoopbackUnlessAsked) {
  TlsFlags flags;
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"}) {
    absl::StatusOr<std::optional<TlsFiles>> tls = ResolveServerTlsFlags(flags, host);
    ASSERT_TRUE(tls.ok()) << host << ": " << tls.status();
    EXPECT_FALSE(tls->has_value());
  }
  for (const char* host : {"0.0.0.0", "::", "10.77.1.11", "192.168.0.1", "example.org"}) {
    absl::Status s = ResolveServerTlsFlags(flags, host).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << host;
    EXPECT_THAT(s.message(), HasSubstr("refusing to serve in plaintext on")) << host;
    EXPECT_THAT(s.message(), HasSubstr("--plaintext")) << host;
  }
  flags.plaintext = true;
  absl::StatusOr<std::optional<TlsFiles>> tls = ResolveServerTlsFlags(flags, "0.0.0.0");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_FALSE(tls->has_value());
  // With TLS any address will do.
  flags.plaintext = false;
  flags.files = {"ca.crt", "me.crt", "me.key"};
  tls = ResolveServerTlsFlags(flags, "0.0.0.0");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->has_value());
}

TEST(TlsFlagsTest, IsLoopbackHost) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.255.255.254"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.org"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(TlsFlagsTest, ParsedByCli11) {
  CLI::App server_app;
  TlsFlags server;
  AddTlsFlags(server_app, server, /*server=*/true);
  std::vector<std::string> args = {"--plaintext", "--tls-key", "k", "--tls-cert",
                                   "c",           "--tls-ca",  "a"};
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  server_app.parse(args);
  EXPECT_TRUE(server.plaintext);
  EXPECT_EQ(server.files.ca, "a");
  EXPECT_EQ(server.files.cert, "c");
  EXPECT_EQ(server.files.key, "k");

  // Clients have no --plaintext: they use TLS exactly when given the files.
  CLI::App client_app;
  TlsFlags client;
  AddTlsFlags(client_app, client, /*server=*/false);
  std::vector<std::string> plaintext = {"--plaintext"};
  EXPECT_THROW(client_app.parse(plaintext), CLI::ParseError);
}

}  // namespace
}  // namespace canopy
