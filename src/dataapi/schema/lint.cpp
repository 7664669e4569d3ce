#include "dataapi/schema/lint.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace pgwarden::dataapi {

const char* LintQuery() {
  // api: the roles a request can run as. reach(oid): which of them may use a relation (any table or column
  // privilege, directly, through membership or PUBLIC).
  return R"SQL(
WITH api AS (
  SELECT r.oid, r.rolname FROM pg_catalog.pg_roles r
  WHERE CASE WHEN cardinality($2::text[]) > 0 THEN r.rolname = ANY ($2::text[])
             ELSE r.rolname <> current_user AND r.rolname NOT LIKE 'pg\_%' AND NOT r.rolsuper
                  AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') END
),
ext AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
),
rels AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relowner, c.reloptions,
         (SELECT string_agg(a.rolname, ',' ORDER BY a.rolname) FROM api a
          WHERE pg_catalog.has_table_privilege(a.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
             OR pg_catalog.has_any_column_privilege(a.oid, c.oid, 'SELECT, INSERT, UPDATE')) AS roles
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v')
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_class'::regclass AND ext.objid = c.oid)
),
views AS (
  SELECT v.*, o.rolname AS owner, (o.rolsuper OR o.rolbypassrls) AS bypass,
         (SELECT string_agg(DISTINCT tn.nspname || '.' || t.relname, ',')
          FROM pg_catalog.pg_rewrite w
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = w.oid
               AND d.refclassid = 'pg_catalog.pg_class'::regclass
          JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
          WHERE w.ev_class = v.oid AND t.oid <> v.oid AND t.relrowsecurity AND NOT t.relforcerowsecurity
            AND t.relowner = v.relowner) AS owned_rls
  FROM rels v JOIN pg_catalog.pg_roles o ON o.oid = v.relowner
  WHERE v.relkind = 'v' AND v.roles IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_options_to_table(v.reloptions) opt
                    WHERE opt.option_name = 'security_invoker'
                      AND lower(opt.option_value) IN ('true', 'on', 'yes', '1', 't', 'y'))
)
SELECT 'view_bypasses_rls', nspname || '.' || relname, roles, owner, bypass, coalesce(owned_rls, '')
FROM views WHERE bypass OR owned_rls IS NOT NULL
UNION ALL
SELECT 'security_definer',
       n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       (SELECT string_agg(a.rolname, ',' ORDER BY a.rolname) FROM api a
        WHERE pg_catalog.has_function_privilege(a.oid, p.oid, 'EXECUTE')),
       o.rolname, o.rolsuper OR o.rolbypassrls, ''
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles o ON o.oid = p.proowner
WHERE n.nspname = ANY ($1::text[]) AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_proc'::regclass AND ext.objid = p.oid)
  AND EXISTS (SELECT 1 FROM api a WHERE pg_catalog.has_function_privilege(a.oid, p.oid, 'EXECUTE'))
UNION ALL
SELECT 'table_without_rls', r.nspname || '.' || r.relname, r.roles, o.rolname, false, ''
FROM rels r JOIN pg_catalog.pg_roles o ON o.oid = r.relowner
WHERE r.relkind IN ('r', 'p') AND NOT r.relrowsecurity AND r.roles IS NOT NULL
ORDER BY 1, 2)SQL";
}

std::vector<LintFinding> ParseLint(const db::Rows& rows) {
  std::vector<LintFinding> out;
  for (int i = 0; i < rows.Size(); ++i) {
    LintFinding f;
    f.kind = std::string(rows.Text(i, 0));
    f.object = std::string(rows.Text(i, 1));
    f.roles = std::string(rows.Text(i, 2));
    f.owner = std::string(rows.Text(i, 3));
    f.owner_bypasses_rls = rows.Bool(i, 4);
    f.owned_tables = std::string(rows.Text(i, 5));
    out.push_back(std::move(f));
  }
  return out;
}

std::string LintMessage(const LintFinding& f) {
  if (f.kind == "view_bypasses_rls") {
    const std::string why = f.owner_bypasses_rls
                                ? "its owner " + f.owner + " bypasses row level security"
                                : "its owner " + f.owner + " owns " + f.owned_tables +
                                      ", whose row level security policies do not apply to their owner";
    return "the view runs with its owner's rights and " + why + ": API roles read every row through it. " +
           "Set security_invoker = true (ALTER VIEW ... SET (security_invoker = true), PostgreSQL 15+) or revoke " +
           "the grant";
  }
  if (f.kind == "security_definer")
    return "the function runs as its owner " + f.owner + " (SECURITY DEFINER) and API roles may call it over " +
           "/rpc/: make it SECURITY INVOKER, move it out of the exposed schemas or revoke EXECUTE";
  if (f.kind == "table_without_rls")
    return "API roles have privileges on the table and row level security is disabled: every row is theirs to " +
           std::string("use. ALTER TABLE ... ENABLE ROW LEVEL SECURITY and add policies, or revoke the grants");
  return f.kind;
}

std::vector<std::string> LintRoles(const std::vector<std::string>& roles, const std::optional<std::string>& anon_role) {
  if (roles.empty()) return {};  // any role the connection role can become (PostgREST): LintQuery finds them
  std::vector<std::string> out = roles;
  if (anon_role && std::find(out.begin(), out.end(), *anon_role) == out.end()) out.push_back(*anon_role);
  return out;
}

void LogLint(const std::vector<LintFinding>& findings) {
  for (const auto& f : findings) {
    const std::string detail = LintMessage(f);
    log::Warn("dataapi.lint", {{"kind", f.kind}, {"object", f.object}, {"roles", f.roles}, {"detail", detail}});
  }
}

}  // namespace pgwarden::dataapi
