"""The raw-SQL floors of the figures: the bare statements on the same database, with
the bare driver (``scenarios`` sends the HTTP figures)."""

import time


class RawSQL:
    """The leaderboards' floor: the bare top-50 query on the same database."""

    def __init__(self, connect, paramstyle: str, explain_prefix: str):
        self.connect = connect
        self.explain_prefix = explain_prefix  # EXPLAIN QUERY PLAN / EXPLAIN ANALYZE
        self.sqlite = paramstyle == "qmark"
        mark = self.mark = "?" if self.sqlite else "%s"
        self.village_sql = (
            f"SELECT household_id, points FROM period_totals WHERE village_id = {mark} AND period = {mark} "
            "ORDER BY points DESC LIMIT 50"
        )
        self.township_sql = (
            "SELECT pt.household_id, pt.points FROM period_totals pt JOIN villages v ON v.id = pt.village_id "
            f"WHERE v.township = {mark} AND pt.period = {mark} ORDER BY pt.points DESC LIMIT 50"
        )
        self.county_sql = (  # the villages of the county's townships
            "SELECT pt.household_id, pt.points FROM period_totals pt JOIN villages v ON v.id = pt.village_id "
            f"JOIN regions r ON r.id = v.region_id WHERE r.parent_id = {mark} AND pt.period = {mark} "
            "ORDER BY pt.points DESC LIMIT 50"
        )

    def time(self, sql: str, params, n: int, warmup: int = 10) -> list[float]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            samples = []
            for i in range(warmup + n):
                t0 = time.perf_counter()
                cur.execute(sql, params)
                cur.fetchall()
                if i >= warmup:
                    samples.append(time.perf_counter() - t0)
            conn.rollback()
            return samples
        finally:
            conn.close()

    def time_commit(self, n: int, warmup: int = 10) -> list[float]:
        """INSERT one small row and COMMIT, on a scratch table: what a durable commit
        alone costs on this disk (PostgreSQL waits for the WAL flush)."""
        mark = self.mark
        conn = self.connect()
        try:
            cur = conn.cursor()
            if self.sqlite:
                cur.execute("PRAGMA synchronous=NORMAL")  # as the app's connections (WAL)
            cur.execute("CREATE TABLE bench_commit_probe (id INTEGER PRIMARY KEY, note VARCHAR(40))")
            conn.commit()
            samples = []
            for i in range(warmup + n):
                t0 = time.perf_counter()
                cur.execute(f"INSERT INTO bench_commit_probe (id, note) VALUES ({mark}, {mark})", (i, "probe"))
                conn.commit()
                if i >= warmup:
                    samples.append(time.perf_counter() - t0)
            cur.execute("DROP TABLE bench_commit_probe")
            conn.commit()
            return samples
        finally:
            conn.close()

    def time_entry(self, household_id: int, rule_id: int, quarter: str, n: int, warmup: int = 10) -> list[float]:
        """What the database does to record one entry, as the app sends it: the user
        (authentication); the household locked with its village, the rule and the
        closed-period check in one SELECT; the entry, the household's balance and the
        two period totals (one statement of data-modifying CTEs on PostgreSQL, three
        statements on SQLite); and the Idempotency-Key record. Rolled back, so the chains
        stay whole for ``ledger verify``: add the durable commit's figure for the whole."""
        m = self.mark
        lock = "" if self.sqlite else " FOR UPDATE OF households"
        entry_columns = (
            "household_id, scheme_id, village_id, seq, kind, rule_id, title, category, quantity, points, ranked, veto, "
            "occurred_on, period, status, note, member_name, recorded_by_id, created_at, prev_hash, hash, "
            "reject_reason, approved_by_id, decided_at, decision_hash"
        )
        entry_values = (
            f"{m}, 1, 1, 1000000, 'rule', {m}, 'bench', '志愿服务', 1, 5, {m}, {m}, '2026-11-20', {m}, "
            f"'approved', '', '', 1, '2026-11-20 02:00:00', '', {m}, '', 1, '2026-11-20 02:00:00', {m}"
        )
        entry_params = (household_id, rule_id, True, False, quarter, "0" * 64, "1" * 64)
        balance = f"UPDATE households SET balance = {m}, entry_count = {m}, chain_hash = {m} WHERE id = {m}"
        balance_params = (100, 1000000, "0" * 64, household_id)
        add = (
            "ON CONFLICT (household_id, period) DO UPDATE SET points = period_totals.points + excluded.points, "
            "veto_count = period_totals.veto_count + excluded.veto_count, "
            "positive_count = period_totals.positive_count + excluded.positive_count"
        )
        total = (
            "INSERT INTO period_totals (household_id, scheme_id, village_id, period, points, veto_count, "
            "positive_count) "
        )
        statements = [
            (f"SELECT * FROM users WHERE id = {m}", (1,)),
            (
                "SELECT households.*, villages.*, schemes.*, rules.*, (SELECT period FROM periods "
                f"WHERE periods.scheme_id = households.scheme_id AND periods.period IN ({m}, {m}) LIMIT 1) "
                f"FROM households LEFT JOIN rules ON rules.id = {m} "
                "LEFT JOIN villages ON villages.id = households.village_id "
                f"JOIN schemes ON schemes.id = households.scheme_id WHERE households.id = {m}{lock}",
                (quarter, quarter[:4], rule_id, household_id),
            ),
        ]
        if self.sqlite:
            statements += [
                (f"INSERT INTO entries ({entry_columns}) VALUES ({entry_values}) RETURNING id", entry_params),
                (balance, balance_params),
                (
                    f"{total} VALUES ({m}, 1, 1, {m}, 5, 0, 1), ({m}, 1, 1, {m}, 5, 0, 1) {add}",
                    (household_id, quarter, household_id, quarter[:4]),
                ),
            ]
        else:
            statements.append(
                (
                    f"WITH household_row AS ({balance}), "
                    f"period_total_0 AS ({total} VALUES ({m}, 1, 1, {m}, 5, 0, 1) {add}), "
                    f"period_total_1 AS ({total} VALUES ({m}, 1, 1, {m}, 5, 0, 1) {add}), "
                    f"new_entry AS (INSERT INTO entries ({entry_columns}) VALUES ({entry_values}) RETURNING id) "
                    "SELECT id FROM new_entry",
                    (*balance_params, household_id, quarter, household_id, quarter[:4], *entry_params),
                )
            )
        statements.append(
            (
                "INSERT INTO idempotency_records (user_id, key, request_hash, status_code, response_body, created_at) "
                f"VALUES (1, {m}, {m}, 201, '{{}}', '2026-11-20 02:00:00')",
                ("bench-raw-key", "0" * 64),
            )
        )
        conn = self.connect()
        try:
            cur = conn.cursor()
            if self.sqlite:
                conn.isolation_level = None  # BEGIN IMMEDIATE by hand, as the app's writers
            else:
                # Prepared once, as the app's statements are (psycopg prepares them after a
                # few runs): its own prepared statements would be dropped at each ROLLBACK.
                conn.prepare_threshold = None
                prepared = []
                for k, (sql, params) in enumerate(statements):
                    parts = sql.split("%s")  # %s, %s, … → $1, $2, …
                    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
                    cur.execute(f"PREPARE bench_entry_{k} AS {numbered}")
                    prepared.append((f"EXECUTE bench_entry_{k} ({', '.join(['%s'] * len(params))})", params))
                conn.commit()
                statements = prepared
                from psycopg import ClientCursor  # EXECUTE takes its arguments inline

                cur = ClientCursor(conn)
            samples = []
            for i in range(warmup + n):
                t0 = time.perf_counter()
                if self.sqlite:
                    cur.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    cur.execute(sql, params)
                    if cur.description:
                        cur.fetchall()
                conn.rollback()
                if i >= warmup:
                    samples.append(time.perf_counter() - t0)
            return samples
        finally:
            conn.close()

    def explain(self, sql: str, params, prefix: str) -> str:
        conn = self.connect()
        try:
            rows = conn.execute(prefix + " " + sql, params).fetchall()
            conn.rollback()
            return "\n".join(" | ".join(str(c) for c in row) for row in rows)
        finally:
            conn.close()
