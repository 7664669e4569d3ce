//! The Data API's start-up and reload lint (DA-05): objects of the exposed schemas that let an API role past
//! row level security, each logged once as a warning (event `dataapi.lint`) naming the object, on start and
//! on every schema reload. These are the operator's own objects, so the log names them; clients never see it.
//!
//!   view_bypasses_rls     a view an API role can use, without security_invoker=true (PostgreSQL >= 15), owned
//!                         by a role that bypasses RLS (superuser, BYPASSRLS) or owns a table under it that has
//!                         RLS enabled (not FORCEd): the view reads as its owner, so the policies do not apply.
//!   security_definer      a SECURITY DEFINER function an API role can execute: it runs as its owner.
//!   table_without_rls     a table an API role has privileges on, with row level security disabled.
//!
//! "API roles": the configured roles a JWT may select plus the anonymous role; when any role may be selected
//! (PGWARDEN_DATA_API_ROLES empty), the roles the connection role may SET ROLE to (not itself, not pg_*, not
//! superusers). Off in `pgwarden rest` (DataApiConfig::lint).
//! Extension members are skipped. The query is the catalog half; ParseLint/LintMessage the pure half.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "db/connection.hpp"

namespace pgwarden::dataapi {

struct LintFinding {
  std::string kind;    //!< view_bypasses_rls | security_definer | table_without_rls
  std::string object;  //!< schema.name, a function with its argument types
  std::string roles;   //!< the API roles that can reach it, comma-separated
  std::string owner;
  bool owner_bypasses_rls = false;  //!< view_bypasses_rls: superuser or BYPASSRLS owner
  std::string owned_tables;         //!< view_bypasses_rls: the owner's RLS tables under the view
};

//! $1: the exposed schemas (text[] literal), $2: the API roles (text[] literal, may be empty). Columns in
//! LintFinding's order.
const char* LintQuery();
std::vector<LintFinding> ParseLint(const db::Rows& rows);
//! The `detail` of a finding's log line: what is wrong and how to fix it.
std::string LintMessage(const LintFinding& f);
//! The API roles for LintQuery's $2: `roles` plus `anon_role`, without duplicates; empty when `roles` is (any
//! role may be selected: LintQuery then takes the roles the connection role can become).
std::vector<std::string> LintRoles(const std::vector<std::string>& roles, const std::optional<std::string>& anon_role);
//! One warning per finding (event dataapi.lint); a plain function, not a coroutine (log fields are an
//! initializer_list, decisions D11).
void LogLint(const std::vector<LintFinding>& findings);

}  // namespace pgwarden::dataapi
