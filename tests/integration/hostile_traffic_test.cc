// Hostile traffic against the real `cephalgia serve` process (issue 13, build item 4). While a
// well-behaved client keeps calling discovery and a hook with full prefetch, attackers send, at
// the same time: slow headers, idle connections, keep-alive connections that each send one
// request every 20 s, a flood from one address, and one of each malformed or oversized request
// (long and many headers, pipelining, broken chunked encoding, bad Content-Lengths, invalid
// UTF-8, JSON nested 100,000 deep, 1e999, duplicate keys, 100,000 prefetch keys, a Bundle of a
// million entries, a body over the limit written whole before reading).
//
// Asserted: the server never crashes and never answers 5xx; every 4xx carries an
// OperationOutcome, broken HTTP gets a 4xx or a closed connection; the well-behaved client's p99
// stays under 50 ms and it is never refused; resident memory stays under kRssBoundKiB; every
// transport refusal is logged once with its reason and none with request bytes; the counters
// at /metrics agree.
//
// Scaled for a 2-core machine and a ~40 s test: 1,100 idle connections (re-opened as the server
// closes them, at most 1,000 a second), 300 keep-alive connections (each sends every 20 s, so at
// most twice in the window), 50 slow-header connections, 150 connections from one address. The
// attacker uses 127.0.0.0/8 source addresses of its own, so that the per-address limit is exercised
// as it is for remote peers (the server is started with --limit-loopback-connections).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "cephalgia/json.h"
#include "cephalgia_process.h"

namespace cephalgia::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Resident memory bounds for the server. Under the connection attacks alone (about 1,500
// connections, 8,000 accepts a second): measured 23 MiB, bound 96 MiB, so a per-connection leak
// or buffer kept by idle connections shows. Over the whole test: the million-entry Bundle (3 MB
// of JSON) costs the service about 280 MiB while it is evaluated (measured peak 301 MiB, back to
// 36 MiB once answered), so the bound is 512 MiB.
constexpr long kConnectionRssBoundKiB = 96 * 1024;
constexpr long kRssBoundKiB = 512 * 1024;
constexpr auto kAttackWindow = 24s;
constexpr int kHeaderTimeoutMs = 3000;
constexpr std::size_t kMaxBody = 4 << 20;  // the Bundle of a million `{}` entries is 3 MB
// Written into every hostile body and header: it must never appear in the server's log.
const std::string kMarker = "HOSTILE-MARKER-7f3a";

const std::string kCase = std::string(CEPHALGIA_SOURCE_DIR) +
                          "/tests/rules/cases/217-step4-neurosurgeon-structural-lesion.json";

// --- sockets -----------------------------------------------------------------------------------

// A TCP connection to 127.0.0.1:port from the loopback address `source` (e.g. "127.0.0.10").
int ConnectFrom(const std::string& source, int port, bool blocking) {
  int fd = ::socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until the server closes (or 20 s pass).
std::string ReadToClose(int fd) {
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  return out;
}

// Status codes of every response in `raw` (pipelined responses follow each other).
std::vector<int> Statuses(const std::string& raw) {
  std::vector<int> out;
  for (std::size_t at = raw.find("HTTP/1.1 "); at != std::string::npos;
       at = raw.find("HTTP/1.1 ", at + 1)) {
    if (at + 12 <= raw.size()) out.push_back(std::atoi(raw.substr(at + 9, 3).c_str()));
  }
  return out;
}

long RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// Entries in use and the size of the kernel's connection-tracking table, when nf_conntrack is
// loaded (-1, -1 otherwise). A full table drops new SYNs silently.
std::pair<long, long> ConntrackUse() {
  long count = -1, max = -1;
  std::ifstream("/proc/sys/net/netfilter/nf_conntrack_count") >> count;
  std::ifstream("/proc/sys/net/netfilter/nf_conntrack_max") >> max;
  return {count, max};
}

// About 1,600 connections at once, 1,000 re-opened a second for 24 s, and the rest: 30,000
// entries with room to spare.
constexpr long kConntrackEntriesNeeded = 30000;

// Waits (up to 150 s: closed connections leave the table after 120 s) until the table has room
// for this test. Returns a description of the shortage if it never does.
std::string WaitForConntrackRoom() {
  auto deadline = Clock::now() + 150s;
  bool told = false;
  for (;;) {
    auto [count, max] = ConntrackUse();
    if (count < 0 || max < 0 || max - count >= kConntrackEntriesNeeded) return "";
    std::string shortage = "the kernel's connection tracking table has " +
                           std::to_string(max - count) + " free entries of " + std::to_string(max) +
                           "; this test needs about " + std::to_string(kConntrackEntriesNeeded) +
                           " (raise net.netfilter.nf_conntrack_max, or wait for the connections "
                           "of an earlier run to leave it)";
    if (Clock::now() >= deadline) return shortage;
    if (!told) std::cout << "waiting: " << shortage << "\n" << std::flush;
    told = true;
    std::this_thread::sleep_for(1s);
  }
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

// --- the attacks -------------------------------------------------------------------------------

struct HostileRequest {
  std::string name;
  std::string bytes;
  bool broken_http = false;       // a closed connection is an acceptable answer
  bool write_body_first = false;  // header, then the body, all before reading (urllib-style)
  // Valid CDS Hooks whose size is the attack (unknown prefetch keys are ignored by the spec):
  // a 200 is a right answer, as long as it comes in time and memory stays bounded.
  bool may_succeed = false;
};

std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "X-Trace: " + kMarker + "\r\nConnection: close\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::vector<HostileRequest> HostileRequests(const std::string& hook_path,
                                            const std::string& good_body) {
  std::vector<HostileRequest> r;
  const std::string get = "GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r.push_back(
      {"over-long header",
       get + "X-Long: " + kMarker + std::string(40000, 'a') + "\r\nConnection: close\r\n\r\n",
       true});
  std::string many = get;
  for (int i = 0; i < 500; ++i) many += "X-" + std::to_string(i) + ": " + kMarker + "\r\n";
  r.push_back({"too many headers", many + "Connection: close\r\n\r\n", true});
  r.push_back({"pipelined", get + "\r\n" + get + "\r\n" + get + "Connection: close\r\n\r\n"});
  r.push_back({"invalid chunked",
               "POST " + hook_path +
                   " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\nzz" +
                   kMarker + "\r\n\r\n",
               true});
  r.push_back({"negative Content-Length",
               "POST " + hook_path +
                   " HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                   "Connection: close\r\n\r\n" +
                   kMarker,
               true});
  r.push_back({"overflowing Content-Length",
               "POST " + hook_path +
                   " HTTP/1.1\r\nHost: x\r\n"
                   "Content-Length: 99999999999999999999999999\r\nConnection: close\r\n\r\n" +
                   kMarker,
               true});
  r.push_back({"huge Content-Length",
               "POST " + hook_path +
                   " HTTP/1.1\r\nHost: x\r\n"
                   "Content-Length: 10000000000\r\nConnection: close\r\n\r\n" +
                   kMarker,
               true});
  std::string utf8 = good_body;
  utf8.insert(1, "\"x\":\"\xff\xfe" + kMarker + "\xc3\x28\",");
  r.push_back({"invalid UTF-8", Post(hook_path, utf8)});
  r.push_back({"JSON nested 100,000 deep",
               Post(hook_path, "{\"m\":\"" + kMarker + "\",\"prefetch\":" +
                                   std::string(100000, '[') + std::string(100000, ']') + "}")});
  std::string huge_number = good_body;
  huge_number.insert(1, "\"m\":\"" + kMarker + "\",\"n\":1e999,");
  r.push_back({"1e999", Post(hook_path, huge_number)});
  std::string duplicate = good_body;
  duplicate.insert(1, "\"hook\":\"" + kMarker + "\",");
  r.push_back({"duplicate keys", Post(hook_path, duplicate)});
  // 100,000 prefetch keys beside the real ones.
  std::string keys = "\"m\":\"" + kMarker + "\"";
  for (int i = 0; i < 100000; ++i) keys += ",\"k" + std::to_string(i) + "\":null";
  std::string many_keys = good_body;
  std::size_t prefetch = many_keys.find("\"prefetch\":{");
  if (prefetch != std::string::npos) many_keys.insert(prefetch + 12, keys + ",");
  r.push_back({"prefetch with 100,000 keys", Post(hook_path, many_keys), false, false, true});
  // A Bundle of a million empty entries, within the 4 MiB body limit.
  std::string entries = "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"id\":\"" + kMarker +
                        "\",\"entry\":[{}";
  entries.reserve(3'100'000);
  for (int i = 1; i < 1'000'000; ++i) entries += ",{}";
  entries += "]}";
  std::string bundle = good_body;
  if (prefetch != std::string::npos)
    bundle.insert(prefetch + 12, "\"hostileBundle\":" + entries + ",");
  r.push_back({"Bundle with a million entries", Post(hook_path, bundle), false, false, true});
  // Over the body limit, written whole before reading: the 413 must arrive, not a reset.
  r.push_back({"body over the limit, written first",
               Post(hook_path, std::string(kMaxBody + (1 << 20), 'x') + kMarker), false, true});
  return r;
}

struct Outcome {
  std::string name;
  std::vector<int> statuses;
  std::string raw;
  double seconds = 0;
  bool send_failed = false;
  long rss_after_kib = 0;  // the server's, once answered
};

Outcome Send(int port, const HostileRequest& req) {
  Outcome o{req.name, {}, {}, 0, false};
  auto start = Clock::now();
  int fd = ConnectFrom("127.0.0.80", port, true);
  if (fd < 0) {
    o.send_failed = true;
    return o;
  }
  if (req.write_body_first) {
    std::size_t head_end = req.bytes.find("\r\n\r\n") + 4;
    o.send_failed = !SendAll(fd, std::string_view(req.bytes).substr(0, head_end));
    std::this_thread::sleep_for(20ms);  // the server answers the header before the body comes
    for (std::size_t at = head_end; !o.send_failed && at < req.bytes.size(); at += 65536) {
      o.send_failed = !SendAll(fd, std::string_view(req.bytes).substr(at, 65536));
    }
  } else {
    o.send_failed = !SendAll(fd, req.bytes);
  }
  o.raw = ReadToClose(fd);
  ::close(fd);
  o.statuses = Statuses(o.raw);
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return o;
}

// Idle connections the server closed are re-opened at most this often. Unbounded, the loop
// re-opened ~7,400 a second (180,000 connections a run), and where the kernel tracks connections
// (nf_conntrack, loaded by container networking) each closed one holds an entry for 120 s: a
// second run within two minutes found the table full, its SYNs were dropped and retransmitted
// 1-15 s later, and the test failed on timings that were the kernel's, not the server's. 1,000 a
// second still keeps the server at its connection cap for the whole window (1,100 idle
// connections alone exceed it) and evicting.
constexpr int kIdleReopensPerSecond = 1000;

// Many connections on one poll loop: idle ones (re-opened when closed), keep-alive ones sending
// a request every 20 s, slow-header ones writing one byte a second, and a one-address flood.
struct ConnectionAttack {
  enum Kind { kIdle, kKeepAlive, kSlow, kFlood };
  struct Conn {
    int fd = -1;
    Kind kind;
    std::string source;
    Clock::time_point opened, next_send;
    std::size_t slow_sent = 0;
  };
  int port;
  std::vector<Conn> conns;
  // Results.
  int keep_alive_answers = 0, keep_alive_5xx = 0, keep_alive_closed = 0, idle_closed = 0;
  int flood_refused_at_once = 0;       // closed unanswered within 1 s of connecting
  std::vector<double> slow_cut_after;  // seconds from open to the server's close
  int slow_answered = 0;

  void Open(Conn& c) {
    c.fd = ConnectFrom(c.source, port, false);
    c.opened = Clock::now();
    c.slow_sent = 0;
  }

  void Run(Clock::time_point end) {
    const std::string slow_header =
        "GET /cds-services HTTP/1.1\r\nHost: x\r\nX-Slow: " + kMarker + "\r\n\r\n";
    const std::string keep_alive_request =
        "GET /cds-services HTTP/1.1\r\nHost: x\r\nX-Trace: " + kMarker + "\r\n\r\n";
    auto start = Clock::now();
    for (int i = 0; i < 1100; ++i)
      conns.push_back({-1, kIdle, "127.0.0." + std::to_string(10 + i % 50), {}, {}, 0});
    for (int i = 0; i < 300; ++i) {
      conns.push_back({-1,
                       kKeepAlive,
                       "127.0.0." + std::to_string(60 + i % 10),
                       {},
                       start + std::chrono::milliseconds(i * 20000 / 300),
                       0});
    }
    for (int i = 0; i < 50; ++i)
      conns.push_back({-1, kSlow, "127.0.0." + std::to_string(70 + i % 5), {}, start, 0});
    for (int i = 0; i < 150; ++i) conns.push_back({-1, kFlood, "127.0.0.90", {}, {}, 0});
    for (auto& c : conns) Open(c);
    std::vector<pollfd> fds;
    char buf[16384];
    double reopen_budget = 0;
    auto budget_at = start;
    while (Clock::now() < end) {
      auto now = Clock::now();
      reopen_budget = std::min<double>(
          kIdleReopensPerSecond,
          reopen_budget +
              kIdleReopensPerSecond * std::chrono::duration<double>(now - budget_at).count());
      budget_at = now;
      for (auto& c : conns) {
        if (c.fd < 0) {
          if (c.kind == kIdle && reopen_budget >= 1) {
            Open(c);
            reopen_budget -= 1;
          } else if (c.kind == kKeepAlive && now >= c.next_send) {
            Open(c);
          }
          continue;
        }
        if (c.kind == kKeepAlive && now >= c.next_send) {
          SendAll(c.fd, keep_alive_request);
          c.next_send = now + 20s;
        }
        if (c.kind == kSlow && now >= c.next_send && c.slow_sent < slow_header.size()) {
          if (::send(c.fd, &slow_header[c.slow_sent], 1, MSG_NOSIGNAL) == 1) ++c.slow_sent;
          c.next_send = now + 1s;
        }
      }
      fds.clear();
      for (auto& c : conns) fds.push_back({c.fd, POLLIN, 0});  // fd -1 is ignored by poll
      ::poll(fds.data(), fds.size(), 50);
      for (std::size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        if (c.fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n > 0) {
          std::string got(buf, static_cast<std::size_t>(n));
          for (int status : Statuses(got)) {
            if (c.kind == kKeepAlive) ++keep_alive_answers;
            if (status >= 500) ++keep_alive_5xx;
            if (c.kind == kSlow) ++slow_answered;
          }
          continue;
        }
        if (n < 0 && errno == EAGAIN) continue;
        ::close(c.fd);
        c.fd = -1;
        switch (c.kind) {
          case kIdle:
            ++idle_closed;
            break;
          case kKeepAlive:
            ++keep_alive_closed;
            break;
          case kSlow:
            slow_cut_after.push_back(
                std::chrono::duration<double>(Clock::now() - c.opened).count());
            c.next_send = Clock::time_point::max();  // not re-opened
            break;
          case kFlood:
            if (Clock::now() - c.opened < 1s) ++flood_refused_at_once;
            break;
        }
        if (c.kind == kSlow) c.fd = -2;  // -2: closed for good (poll ignores negative fds)
      }
    }
    for (auto& c : conns) {
      if (c.fd >= 0) ::close(c.fd);
    }
  }
};

// --- the well-behaved client ---------------------------------------------------------------------

std::size_t AppendTo(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct GoodClient {
  std::vector<double> latencies_ms;
  std::map<long, int> statuses;
  int failures = 0;

  void Run(const std::string& base, const std::string& hook_path, const std::string& body,
           Clock::time_point end) {
    CURL* curl = curl_easy_init();
    std::string response;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    for (int i = 0; Clock::now() < end; ++i) {
      response.clear();
      bool hook = i % 2 == 1;
      std::string url = base + (hook ? hook_path : "/cds-services");
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      if (hook) {
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      }
      auto start = Clock::now();
      CURLcode code = curl_easy_perform(curl);
      latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (code != CURLE_OK) ++failures;
      ++statuses[status];
      std::this_thread::sleep_for(20ms);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The value of a Prometheus counter series in `text`, 0 when absent.
long Counter(const std::string& text, const std::string& series) {
  std::size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::atol(text.c_str() + at + series.size() + 2);
}

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

TEST(HostileTraffic, TheServerAndItsOtherClientsHoldUp) {
  // The attacker holds ~1,700 sockets at once.
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, 4096u) << "the test needs 4096 descriptors (ulimit -n)";
  // Where the kernel tracks connections, a table without room drops SYNs, and the test would
  // measure the kernel's retransmit delays instead of the server.
  const std::string conntrack_shortage = WaitForConntrackRoom();
  ASSERT_EQ(conntrack_shortage, "");

  auto doc = json::ParseUntrusted(ReadFile(kCase), 8 << 20);
  ASSERT_TRUE(doc.ok());
  ASSERT_TRUE((*doc)["request"].IsObject() && (*doc)["service"].IsString() &&
              (*doc)["now"].IsString());
  const std::string good_body = json::Serialize((*doc)["request"]);
  const std::string hook_path = "/cds-services/" + std::string((*doc)["service"].GetString());

  fs::path dir = fs::temp_directory_path() / ("cephalgia-hostile-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto started = CephalgiaServer::Start(
      {"--plugins", BuiltPackDir(), "--data-dir", (dir / "data").string(), "--threads", "2",
       "--now", (*doc)["now"].GetString(), "--max-body-bytes", std::to_string(kMaxBody),
       "--header-timeout-ms", std::to_string(kHeaderTimeoutMs), "--limit-loopback-connections"});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  CephalgiaServer& server = **started;
  const pid_t pid = server.pid();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  // The well-behaved client's baseline, alone.
  ASSERT_EQ(
      HttpCall("POST", base + hook_path, good_body, {"Content-Type: application/json"}).status,
      200);

  std::atomic<long> max_rss{0};
  std::atomic<bool> done{false};
  std::thread memory([&] {
    while (!done) {
      max_rss = std::max(max_rss.load(), RssKiB(pid));
      std::this_thread::sleep_for(100ms);
    }
  });
  const auto end = Clock::now() + kAttackWindow;
  GoodClient good;
  std::thread good_thread([&] { good.Run(base, hook_path, good_body, end); });
  ConnectionAttack connections{server.port(), {}};
  std::thread connection_thread([&] { connections.Run(end); });
  std::vector<Outcome> outcomes;
  std::atomic<long> connection_rss{0};
  std::thread request_thread([&] {
    std::this_thread::sleep_for(2s);  // with the connection attacks under way
    connection_rss = max_rss.load();
    std::cout << "server VmRSS under the connection attacks: " << connection_rss / 1024 << " MiB\n";
    for (const auto& req : HostileRequests(hook_path, good_body)) {
      outcomes.push_back(Send(server.port(), req));
      outcomes.back().rss_after_kib = RssKiB(pid);
      std::this_thread::sleep_for(500ms);
    }
  });
  request_thread.join();
  good_thread.join();
  connection_thread.join();
  done = true;
  memory.join();

  // The server lives and still answers.
  ASSERT_TRUE(Alive(pid)) << "the server died:\n" << server.Log();
  HttpResult metrics = HttpCall("GET", base + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(HttpCall("GET", base + "/healthz").status, 200);

  // Every hostile request: a 4xx with an OperationOutcome, or (broken HTTP) a closed
  // connection; never a 5xx.
  const auto requests = HostileRequests(hook_path, "{\"prefetch\":{}}");
  ASSERT_EQ(outcomes.size(), requests.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    std::string statuses;
    for (int s : o.statuses) statuses += std::to_string(s) + " ";
    std::cout << "  " << o.name << ": " << (statuses.empty() ? "closed " : statuses) << "in "
              << o.seconds << " s, server VmRSS then " << o.rss_after_kib / 1024 << " MiB\n";
    for (int s : o.statuses) EXPECT_LT(s, 500) << o.name;
    EXPECT_LT(o.seconds, 10) << o.name;
    if (o.name == "pipelined") {
      EXPECT_EQ(o.statuses, (std::vector<int>{200, 200, 200}));
      continue;
    }
    if (o.statuses.empty()) {
      EXPECT_TRUE(requests[i].broken_http) << o.name << ": no answer";
      continue;
    }
    if (requests[i].may_succeed && o.statuses.front() == 200) continue;
    EXPECT_GE(o.statuses.front(), 400) << o.name << " was accepted: " << o.raw.substr(0, 200);
    EXPECT_NE(o.raw.find("OperationOutcome"), std::string::npos)
        << o.name << ": " << o.raw.substr(0, 300);
    if (requests[i].write_body_first) {
      EXPECT_FALSE(o.send_failed) << "the client writing its body first got a reset";
      EXPECT_EQ(o.statuses.front(), 413);
    }
  }

  // The well-behaved client: always served, p99 under 50 ms.
  double p50 = Percentile(good.latencies_ms, 0.50), p99 = Percentile(good.latencies_ms, 0.99);
  std::cout << "well-behaved client: " << good.latencies_ms.size() << " calls, p50 " << p50
            << " ms, p99 " << p99 << " ms, max " << Percentile(good.latencies_ms, 1.0)
            << " ms; server peak VmRSS " << max_rss / 1024 << " MiB\n";
  EXPECT_GE(good.latencies_ms.size(), 200u);
  EXPECT_EQ(good.failures, 0);
  EXPECT_EQ(good.statuses.size(), 1u);
  EXPECT_EQ(good.statuses.begin()->first, 200);
  EXPECT_LT(p99, 50.0);
  EXPECT_LT(connection_rss.load(), kConnectionRssBoundKiB);
  EXPECT_LT(max_rss.load(), kRssBoundKiB);

  // The connection attacks.
  std::cout << "keep-alive answers " << connections.keep_alive_answers << ", closed "
            << connections.keep_alive_closed << "; idle closed " << connections.idle_closed
            << "; one-address flood refused at once " << connections.flood_refused_at_once << "\n";
  if (auto [count, max] = ConntrackUse(); count >= 0) {
    std::cout << "kernel connection tracking: " << count << " of " << max << " entries in use\n";
  }
  EXPECT_EQ(connections.keep_alive_5xx, 0);
  EXPECT_GT(connections.keep_alive_answers, 0);
  EXPECT_EQ(connections.slow_answered, 0);
  ASSERT_EQ(connections.slow_cut_after.size(), 50u) << "slow headers were not all cut";
  for (double s : connections.slow_cut_after) {
    EXPECT_LT(s, kHeaderTimeoutMs / 1000.0 + 2.0) << "a slow header outlived the header timeout";
  }

  // Logs: every transport refusal once with its reason; connection refusals rate-limited; no
  // request bytes anywhere.
  const std::string log = server.Log();
  EXPECT_EQ(Count(log, kMarker), 0u) << "request bytes in the log";
  std::size_t transport_refusals = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (requests[i].broken_http || requests[i].write_body_first)
      transport_refusals += outcomes[i].statuses.size();
  }
  EXPECT_EQ(Count(log, "\"event\":\"request_refused\""), transport_refusals);
  const double seconds = std::chrono::duration<double>(kAttackWindow).count() + 5;
  for (const std::string reason : {"per_address_limit", "header_timeout"}) {
    std::size_t lines = Count(log, "reason=" + reason + ":");
    long counted =
        Counter(metrics.body, "cephalgia_connections_refused_total{reason=\"" + reason + "\"}");
    std::cout << reason << ": " << counted << " counted, " << lines << " log lines\n";
    EXPECT_GE(lines, 1u) << reason;
    EXPECT_LE(static_cast<double>(lines), seconds)
        << reason << " logged per refusal, not rate-limited";
    EXPECT_GE(counted, static_cast<long>(lines)) << reason;
  }
  // 150 connections from one address with a limit of 64: 86 refused (fewer only when some of the
  // 64 were evicted as idle meanwhile, which frees their slots).
  const long per_address =
      Counter(metrics.body, "cephalgia_connections_refused_total{reason=\"per_address_limit\"}");
  EXPECT_GE(per_address, 60);
  EXPECT_LE(per_address, 150 - 64);
  EXPECT_GE(Counter(metrics.body, "cephalgia_connections_refused_total{reason=\"header_timeout\"}"),
            50);
  EXPECT_GT(Counter(metrics.body, "cephalgia_idle_connections_evicted_total"), 0)
      << "the cap was never reached: the test does not exercise eviction";

  fs::remove_all(dir);
}

// `cephalgia serve` started under RLIMIT_NOFILE (soft, hard); returns its log up to the
// "listening" or "startup_failed" line (or its exit) and its exit status (-1: still running,
// then stopped by its pid).
std::pair<std::string, int> ServeUnderDescriptorLimit(rlim_t soft, rlim_t hard,
                                                      const fs::path& data_dir) {
  int err[2];
  if (::pipe(err) != 0) return {"pipe failed", -2};
  pid_t child = ::fork();
  if (child == 0) {
    rlimit limit{soft, hard};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(99);
    ::dup2(err[1], 2);
    ::close(err[0]);
    ::close(err[1]);
    // No pack: the descriptor budget does not depend on one, and start-up stays fast.
    fs::create_directories(data_dir / "no-packs");
    std::string binary = CephalgiaBinary(), plugins = (data_dir / "no-packs").string(),
                data = data_dir.string();
    ::execl(binary.c_str(), binary.c_str(), "serve", "--port", "0", "--plugins", plugins.c_str(),
            "--data-dir", data.c_str(), static_cast<char*>(nullptr));
    ::_exit(98);
  }
  ::close(err[1]);
  std::string log;
  char buf[4096];
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline && log.find("\"listening\"") == std::string::npos &&
         log.find("startup_failed") == std::string::npos) {
    pollfd p{err[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::read(err[0], buf, sizeof(buf));
    if (n <= 0) break;
    log.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  bool exited = false;
  if (log.find("startup_failed") != std::string::npos) {
    // A failed start-up exits right after its line: read to the end (closing the pipe early
    // would kill it with SIGPIPE), then collect its exit status.
    for (int i = 0; i < 100; ++i) {
      pollfd p{err[0], POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::read(err[0], buf, sizeof(buf));
      if (n <= 0) break;
      log.append(buf, static_cast<std::size_t>(n));
    }
    for (int i = 0; i < 100 && !exited; ++i) {
      exited = ::waitpid(child, &status, WNOHANG) == child;
      if (!exited) std::this_thread::sleep_for(50ms);
    }
  }
  ::close(err[0]);
  if (!exited) {
    ::kill(child, SIGTERM);
    ::waitpid(child, &status, 0);
    return {log, -1};
  }
  return {log, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

// Issue 13 defect 5: with a soft limit of 1024 and --max-connections 1024 the cap could never act
// (accept() failed with EMFILE first). At start-up the soft limit is raised to fit the cap, the cap
// is lowered (with a warning) when the hard limit cannot hold it, and start-up fails with a clear
// line when almost nothing fits.
TEST(DescriptorLimit, TheConnectionCapIsFittedToTheDescriptorLimitAtStartUp) {
  fs::path dir = fs::temp_directory_path() / ("cephalgia-nofile-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto [raised, raised_exit] = ServeUnderDescriptorLimit(256, 4096, dir / "a");
  EXPECT_EQ(raised_exit, -1) << raised;
  EXPECT_THAT(raised, ::testing::HasSubstr("descriptor limit raised from 256 to 1104"));
  auto [lowered, lowered_exit] = ServeUnderDescriptorLimit(600, 600, dir / "b");
  EXPECT_EQ(lowered_exit, -1) << lowered;
  EXPECT_THAT(lowered, ::testing::HasSubstr("--max-connections lowered from 1024 to 520"));
  auto [refused, refused_exit] = ServeUnderDescriptorLimit(60, 60, dir / "c");
  EXPECT_EQ(refused_exit, 1) << refused;
  EXPECT_THAT(refused, ::testing::HasSubstr("startup_failed"));
  EXPECT_THAT(refused, ::testing::HasSubstr("raise the limit (ulimit -n)"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cephalgia::test
