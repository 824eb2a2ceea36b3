"""SQL on a vigie SQLite file, as anyone holding the file could run it (tests that
inspect or tamper with the database). argv: db, mode (one|script|many), sql, params
(JSON); `many` takes a JSON list of queries as sql and gives one list of rows per query.
Prints {"rows": [[...]], "changes": n} or {"error": "..."}."""
import json
import sqlite3
import sys

db, mode, sql, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
try:
    conn = sqlite3.connect(db, timeout=10)
    if mode == "script":
        conn.executescript(sql)
        rows, changes = [], conn.total_changes
    elif mode == "many":
        cell = lambda c: c.hex() if isinstance(c, bytes) else c
        rows = [[[cell(c) for c in r] for r in conn.execute(q).fetchall()] for q in json.loads(sql)]
        changes = 0
    else:
        cur = conn.execute(sql, params)
        rows = [[c.hex() if isinstance(c, bytes) else c for c in r] for r in cur.fetchall()]
        changes = cur.rowcount
    conn.commit()
    conn.close()
    print(json.dumps({"rows": rows, "changes": changes}))
except sqlite3.Error as e:
    print(json.dumps({"error": str(e)}))
