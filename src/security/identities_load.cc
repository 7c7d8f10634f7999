// IdentityTable::Load and Parse: the TOML file of spec 6.3 into an immutable table. Errors are
// collected (like config/load.cc) and name <file>:<line>:<col> and the identity, never a
// credential value.
#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/toml_hazard.h"
#include "security/identities.h"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace ironbus::security {

namespace {

constexpr std::string_view kIdentityKeys[] = {"name", "scopes", "tenant", "token_hashes", "username",
                                             "password_phc", "san"};
constexpr std::string_view kTenantKeys[] = {"name", "max_connections", "max_streams", "max_storage_bytes", "export",
                                           "import"};
constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxUsernameBytes = 255;

bool Contains(const auto& list, std::string_view key) {
  return std::find(std::begin(list), std::end(list), key) != std::end(list);
}

bool ValidName(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

bool ValidTenant(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Overwrites every string value the parser holds before the table is freed (PHC strings and
// digests must not linger in freed heap).
void WipeStrings(toml::node& node) {
  if (auto* s = node.as_string()) {
    std::string& v = s->get();
    if (!v.empty()) OPENSSL_cleanse(v.data(), v.size());
  } else if (auto* a = node.as_array()) {
    for (toml::node& e : *a) WipeStrings(e);
  } else if (auto* t = node.as_table()) {
    for (auto&& [k, v] : *t) WipeStrings(v);
  }
}

}  // namespace

// Friend of IdentityTable: fills one table, collecting every error.
class TableBuilder {
 public:
  explicit TableBuilder(std::string source) : source_(std::move(source)), table_(std::make_shared<IdentityTable>()) {}

  void Build(const toml::table& root) {
    for (const auto& [key, node] : root) {
      const std::string k(key.str());
      if (k == "identity" && node.is_array_of_tables()) {
        for (const toml::node& t : *node.as_array()) ParseIdentity(*t.as_table());
      } else if (k == "tenant" && node.is_array_of_tables()) {
        for (const toml::node& t : *node.as_array()) ParseTenant(*t.as_table());
      } else if (k == "identity" || k == "tenant") {
        Error(node, "`" + k + "` must be written as [[" + k + "]] tables");
      } else {
        Error(node, "unknown key `" + k + "` (hint: the file holds [[identity]] and [[tenant]] tables)");
      }
    }
    table_->digests_ = Secret::TakeFrom(&digest_bytes_);
  }

  Result<std::shared_ptr<const IdentityTable>> Finish() {
    if (!errors_.empty()) {
      std::string all;
      for (const std::string& e : errors_) all += (all.empty() ? "" : "\n") + e;
      return Status::InvalidArgument(std::move(all));
    }
    if (table_->HasMechanism(Mechanism::kPassword)) WarmDummyPhc();
    return std::shared_ptr<const IdentityTable>(std::move(table_));
  }

 private:
  std::string Where(const toml::node& n) const {
    return source_ + ":" + std::to_string(n.source().begin.line) + ":" + std::to_string(n.source().begin.column);
  }
  void Error(const toml::node& n, const std::string& what) { errors_.push_back(Where(n) + ": " + what); }

  // A non-empty array of strings, or an error; nullptr when absent.
  const toml::array* StringList(const toml::table& t, std::string_view key, const std::string& who) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    const toml::array* a = n->as_array();
    bool ok = a != nullptr && a->is_homogeneous(toml::node_type::string);
    if (a != nullptr && a->empty()) ok = key == "scopes" || key == "export" || key == "import";
    if (!ok) {
      Error(*n, who + ": `" + std::string(key) + "` must be a non-empty list of strings");
      return nullptr;
    }
    return a;
  }

  void ParseIdentity(const toml::table& t) {
    const toml::node* name_node = t.get("name");
    std::string who = "identity";
    std::string name;
    if (name_node == nullptr || !name_node->is_string()) {
      Error(t, "[[identity]] needs `name` (a string)");
    } else {
      name = name_node->as_string()->get();
      if (!ValidName(name, kMaxNameBytes)) {
        Error(*name_node, "identity name must be 1..128 printable ASCII characters without spaces");
        name.clear();
      } else {
        who = "identity `" + name + "`";
        if (!names_.insert(name).second) Error(*name_node, who + ": the name is used twice");
      }
    }
    for (const auto& [key, node] : t) {
      if (!Contains(kIdentityKeys, key.str())) {
        Error(node, who + ": unknown key `" + std::string(key.str()) +
                        "` (hint: name, scopes, tenant, and one of token_hashes, username + password_phc, san)");
      }
    }
    IdentityTable::Entry e;
    e.identity.name = name;
    if (const toml::node* sn = t.get("scopes"); sn == nullptr) {
      Error(t, who + ": `scopes` is required (a list of publish, subscribe, admin; [] for none)");
    } else if (const toml::array* a = StringList(t, "scopes", who)) {
      std::vector<std::string> names;
      for (const toml::node& s : *a) names.push_back(s.as_string()->get());
      Result<ScopeSet> scopes = ParseScopes(names);
      if (scopes.ok()) {
        e.identity.scopes = *scopes;
      } else {
        Error(*sn, who + ": " + scopes.status().message());
      }
    }
    if (const toml::node* tn = t.get("tenant")) {
      if (!tn->is_string() || !ValidTenant(tn->as_string()->get())) {
        Error(*tn, who + ": `tenant` must be 1..64 characters of A-Z a-z 0-9 _ -");
      } else {
        e.identity.tenant = tn->as_string()->get();
      }
    }
    const bool has_tokens = t.contains("token_hashes");
    const bool has_password = t.contains("username") || t.contains("password_phc");
    const bool has_san = t.contains("san");
    if (int(has_tokens) + int(has_password) + int(has_san) != 1) {
      Error(t, who + ": needs exactly one credential kind: token_hashes, or username + password_phc, or san");
      return;
    }
    if (has_tokens) {
      e.mechanism = Mechanism::kBearer;
      Tokens(t, who, &e);
    } else if (has_password) {
      e.mechanism = Mechanism::kPassword;
      Password(t, who, &e);
    } else {
      e.mechanism = Mechanism::kMtls;
      Sans(t, who, &e);
    }
    table_->entries_.push_back(std::move(e));
  }

  void Tokens(const toml::table& t, const std::string& who, IdentityTable::Entry* e) {
    const toml::array* a = StringList(t, "token_hashes", who);
    if (a == nullptr) return;
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string& hex = (*a)[i].as_string()->get();
      const std::string item = who + ": token_hashes[" + std::to_string(i) + "]";
      if (hex.size() != 64) {
        Error((*a)[i], item + " is not a SHA-256 digest: it must be 64 hex characters (the value is not shown)");
        continue;
      }
      std::string bytes(32, '\0');
      bool ok = true;
      for (size_t j = 0; j < 32; ++j) {
        const int hi = HexNibble(hex[2 * j]), lo = HexNibble(hex[2 * j + 1]);
        ok = ok && hi >= 0 && lo >= 0;
        bytes[j] = static_cast<char>(((hi & 0xF) << 4) | (lo & 0xF));
      }
      if (!ok) {
        Error((*a)[i], item + " is not a SHA-256 digest: it holds a non-hex character (the value is not shown)");
      } else if (const auto [it, fresh] = digest_owner_.emplace(bytes, e->identity.name); !fresh) {
        Error((*a)[i], item + " repeats a digest already given to identity `" + it->second + "`");
      } else {
        e->digest_slots.push_back(table_->digest_owner_.size());
        table_->digest_owner_.push_back(table_->entries_.size());
        digest_bytes_ += bytes;
      }
      OPENSSL_cleanse(bytes.data(), bytes.size());
    }
  }

  void Password(const toml::table& t, const std::string& who, IdentityTable::Entry* e) {
    const toml::node* un = t.get("username");
    if (un == nullptr || !un->is_string() || !ValidName(un->as_string()->get(), kMaxUsernameBytes)) {
      Error(un ? *un : static_cast<const toml::node&>(t),
            who + ": `username` is required with password_phc: 1..255 printable ASCII characters, no spaces");
    } else {
      e->username = un->as_string()->get();
      if (const auto [it, fresh] = table_->by_username_.emplace(e->username, table_->entries_.size()); !fresh) {
        Error(*un, who + ": username `" + e->username + "` is already used by another identity");
      }
    }
    if (!t.contains("password_phc")) {
      Error(t, who + ": `password_phc` is required with username (print one with `ironbus server passwd`)");
      return;
    }
    const toml::array* a = StringList(t, "password_phc", who);
    if (a == nullptr) return;
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string& phc = (*a)[i].as_string()->get();
      if (Status s = ValidatePhc(phc); !s.ok()) {
        Error((*a)[i], who + ": password_phc[" + std::to_string(i) + "] is " + s.message());
        continue;
      }
      e->phcs.emplace_back(phc);
    }
  }

  void Sans(const toml::table& t, const std::string& who, IdentityTable::Entry* e) {
    const toml::array* a = StringList(t, "san", who);
    if (a == nullptr) return;
    for (const toml::node& n : *a) {
      const std::string& san = n.as_string()->get();
      if (san.empty()) {
        Error(n, who + ": an empty san string matches nothing");
        continue;
      }
      if (const auto [it, fresh] = table_->by_san_.emplace(san, table_->entries_.size()); !fresh) {
        Error(n, who + ": san `" + san + "` is already used by another identity");
        continue;
      }
      e->sans.push_back(san);
    }
  }

  void ParseTenant(const toml::table& t) {
    TenantSpec spec;
    const toml::node* nn = t.get("name");
    if (nn == nullptr || !nn->is_string() || !ValidTenant(nn->as_string()->get())) {
      Error(nn ? *nn : static_cast<const toml::node&>(t),
            "[[tenant]] needs `name`: 1..64 characters of A-Z a-z 0-9 _ -");
    } else {
      spec.name = nn->as_string()->get();
      if (!tenant_names_.insert(spec.name).second) Error(*nn, "tenant `" + spec.name + "` is declared twice");
    }
    const std::string who = "tenant `" + spec.name + "`";
    for (const auto& [key, node] : t) {
      const std::string k(key.str());
      if (!Contains(kTenantKeys, k)) {
        Error(node, who + ": unknown key `" + k + "` (hint: " +
                        "name, max_connections, max_streams, max_storage_bytes, export, import)");
        continue;
      }
      if (k.rfind("max_", 0) == 0) {
        if (!node.is_integer() || node.as_integer()->get() < 0) {
          Error(node, who + ": `" + k + "` must be a non-negative integer");
          continue;
        }
        const auto v = static_cast<uint64_t>(node.as_integer()->get());
        (k == "max_connections" ? spec.max_connections : k == "max_streams" ? spec.max_streams : spec.max_storage_bytes) = v;
      } else if (k == "export" || k == "import") {
        const toml::array* a = StringList(t, k, who);
        if (a == nullptr) continue;
        for (const toml::node& s : *a) (k == "export" ? spec.exports : spec.imports).push_back(s.as_string()->get());
      }
    }
    table_->tenants_.push_back(std::move(spec));
  }

  std::string source_;
  std::shared_ptr<IdentityTable> table_;
  std::vector<std::string> errors_;
  std::set<std::string> names_;
  std::set<std::string> tenant_names_;
  std::map<std::string, std::string> digest_owner_;  // digest bytes -> identity name (wiped below)
  std::string digest_bytes_;

 public:
  ~TableBuilder() {
    for (auto& [d, n] : digest_owner_) OPENSSL_cleanse(const_cast<char*>(d.data()), d.size());
    WipeString(&digest_bytes_);
  }
};

Result<std::shared_ptr<const IdentityTable>> IdentityTable::Parse(std::string_view toml_text,
                                                                  const std::string& source_name) {
  if (const std::string hazard = FindTomlParserHazard(toml_text); !hazard.empty()) {
    return Status::InvalidArgument(source_name + ":" + hazard +
                                   " is not accepted by this build's TOML parser (hint: use ASCII)");
  }
  toml::parse_result parsed = toml::parse(toml_text, source_name);
  if (!parsed) {
    const auto& e = parsed.error();
    return Status::InvalidArgument(source_name + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": not valid TOML: " +
                                   std::string(e.description()));
  }
  toml::table root = std::move(parsed).table();
  TableBuilder builder(source_name);
  builder.Build(root);
  WipeStrings(root);
  return builder.Finish();
}

Result<std::shared_ptr<const IdentityTable>> IdentityTable::Load(const std::string& path, uid_t expected_uid,
                                                                 SecretFileCondition* condition) {
  ASSIGN_OR_RETURN(const Secret text, ReadSecretFile(path, expected_uid, condition));
  return Parse(text.RevealBytesForUse(), path);
}

}  // namespace ironbus::security
