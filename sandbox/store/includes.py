"""_include and _revinclude (R4 search.html §3.1.1.5.4): the resources the matches refer to, and those referring to
them; ``:iterate`` ones are applied again to what came in, round by round, within bounds."""

from __future__ import annotations

from .query import Include
from .resources import Store, Stored

MAX_INCLUDE_ROUNDS = 4  # _include:iterate follows references at most this many steps beyond the matches
MAX_INCLUDED = 5000  # resources brought in by includes, all rounds together


def resolve_includes(store: Store, rids: list[int], includes: list[Include],
                     revincludes: list[Include]) -> list[Stored]:
    """Resources named by _include (referenced by the matches) and _revinclude (referring to them); the
    ``:iterate`` ones are applied again to what came in, round by round (R4 search.html §3.1.1.5.4)."""
    if not rids or not (includes or revincludes):
        return []
    seen, unique = set(rids), []
    current = list(rids)
    for round_number in range(MAX_INCLUDE_ROUNDS + 1):
        wanted = (includes, revincludes) if round_number == 0 else \
            ([i for i in includes if i.iterate], [i for i in revincludes if i.iterate])
        if not current or not (wanted[0] or wanted[1]) or len(unique) >= MAX_INCLUDED:
            break
        fresh = []
        for rid in _included_rids(store, current, *wanted):
            if rid not in seen:
                seen.add(rid)
                fresh.append(rid)
        unique.extend(fresh)
        current = fresh
    return store.read_many(unique[:MAX_INCLUDED])


def _included_rids(store: Store, rids: list[int], includes: list[Include], revincludes: list[Include]) -> list[int]:
    found: list[int] = []
    conn = store.conn
    for start in range(0, len(rids), 500):
        chunk = rids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for inc in includes:
            sql = (f"SELECT t.rid FROM idx_reference x JOIN resources t ON t.type = x.target_type "
                   f"AND t.id = x.target_id AND t.deleted = 0 WHERE x.rid IN ({marks}) AND x.type = ? AND x.param = ?")
            args = [*chunk, inc.source_type, inc.param]
            if inc.target_type:
                sql += " AND x.target_type = ?"
                args.append(inc.target_type)
            found.extend(row[0] for row in conn.execute(sql, args))
        if revincludes:
            keys = conn.execute(f"SELECT type, id FROM resources WHERE rid IN ({marks})", chunk).fetchall()
            for inc in revincludes:
                for target_type, target_id in keys:
                    found.extend(row[0] for row in conn.execute(
                        "SELECT x.rid FROM idx_reference x JOIN resources s ON s.rid = x.rid AND s.deleted = 0 "
                        "WHERE x.target_id = ? AND x.target_type = ? AND x.type = ? AND x.param = ?",
                        (target_id, target_type, inc.source_type, inc.param),
                    ))
    return found
