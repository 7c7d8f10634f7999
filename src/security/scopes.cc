// The verb table of scopes.h. A switch over numbers (not protocol::Tag) because security sits
// below protocol; scopes_test pins each number to its protocol constant.
#include "security/scopes.h"

namespace ironbus::security {

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kPublish: return "publish";
    case Scope::kSubscribe: return "subscribe";
    case Scope::kAdmin: return "admin";
  }
  return "admin";
}

Result<Scope> ParseScope(std::string_view name) {
  for (Scope s : {Scope::kPublish, Scope::kSubscribe, Scope::kAdmin}) {
    if (name == ScopeName(s)) return s;
  }
  return Status::InvalidArgument("unknown scope `" + std::string(name) +
                                 "` (hint: the scopes are publish, subscribe and admin)");
}

std::string ScopeSet::ToString() const {
  std::string out;
  for (Scope s : {Scope::kPublish, Scope::kSubscribe, Scope::kAdmin}) {
    if (!Has(s)) continue;
    if (!out.empty()) out += ",";
    out += ScopeName(s);
  }
  return out;
}

Result<ScopeSet> ParseScopes(const std::vector<std::string>& names) {
  ScopeSet set;
  for (const std::string& n : names) {
    ASSIGN_OR_RETURN(const Scope s, ParseScope(n));
    if (set.Has(s)) return Status::InvalidArgument("scope `" + n + "` is listed twice");
    set.Add(s);
  }
  return set;
}

std::string_view ScopeRequirementName(ScopeRequirement r) {
  switch (r) {
    case ScopeRequirement::kNone: return "none";
    case ScopeRequirement::kPublish: return "publish";
    case ScopeRequirement::kSubscribe: return "subscribe";
    case ScopeRequirement::kPublishOrSubscribe: return "publish|subscribe";
    case ScopeRequirement::kAdmin: return "admin";
    case ScopeRequirement::kNotClientVerb: return "not_client_verb";
  }
  return "not_client_verb";
}

ScopeRequirement RequiredScope(uint8_t wire_tag) {
  switch (wire_tag) {
    case 1:   // Connect
    case 3:   // Ping
      return ScopeRequirement::kNone;
    case 5:   // Pub
    case 30:  // PubTo
    case 35:  // PubSubject
      return ScopeRequirement::kPublish;
    case 6:   // Sub
    case 7:   // Unsub
    case 8:   // Ack (ack, nack, term, progress)
    case 10:  // Flow
    case 19:  // CumulativeAck
    case 23:  // Fetch
    case 24:  // StreamFetch
    case 25:  // StreamCommit
    case 29:  // StreamInfo
    case 31:  // SubTo
    case 36:  // SubSubject
      return ScopeRequirement::kSubscribe;
    case 28:  // StreamDeclare
    case 34:  // BindSubject
    case 44:  // TxnPrepare
    case 45:  // TxnCommit
    case 46:  // TxnRollback
    case 48:  // TxnCheckResult
    case 49:  // TxnListen
      return ScopeRequirement::kPublishOrSubscribe;
    case 52:  // PauseGroup
      return ScopeRequirement::kAdmin;
    default:
      return ScopeRequirement::kNotClientVerb;
  }
}

bool Permits(ScopeSet held, uint8_t wire_tag) {
  switch (RequiredScope(wire_tag)) {
    case ScopeRequirement::kNone: return true;
    case ScopeRequirement::kPublish: return held.Has(Scope::kPublish);
    case ScopeRequirement::kSubscribe: return held.Has(Scope::kSubscribe);
    case ScopeRequirement::kPublishOrSubscribe: return held.Has(Scope::kPublish) || held.Has(Scope::kSubscribe);
    case ScopeRequirement::kAdmin: return held.Has(Scope::kAdmin);
    case ScopeRequirement::kNotClientVerb: return false;
  }
  return false;
}

}  // namespace ironbus::security
