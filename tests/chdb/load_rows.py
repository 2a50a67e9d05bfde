"""Run cellwatch's ClickHouse DDL and inserts in chDB, an embedded current ClickHouse.

Used by tests/clickhouse_current.rs (scripts/ensure-chdb.sh installs chdb-core):

    python load_rows.py version
        prints the embedded ClickHouse's version
    python load_rows.py load DIR
        DIR/ddl.sql: the statements of `cellwatch migrate --print-ddl`, separated by
        blank-line-ended `;` lines; DIR/NN_TABLE.sql + DIR/NN_TABLE.bin: an INSERT
        statement as the sink sent it (`INSERT INTO t(cols) FORMAT RowBinary`) and its
        RowBinary body, byte for byte. Creates every table in a fresh chDB session,
        inserts each body (read by the file() table function with the columns' types
        from the table itself), then prints one JSON object per line:
        {"table": ..., "rows": [...]} with every row read back (JSONEachRow).
Exits non-zero with the server's message on any error.
"""

import glob
import json
import os
import re
import sys


def session(path):
    from chdb import session as chs

    return chs.Session(path)


def version():
    import chdb

    print(str(chdb.query("SELECT version()", "CSV")).strip().strip('"'))


def load(folder):
    s = session(os.path.join(folder, "chdb"))
    ddl = open(os.path.join(folder, "ddl.sql"), encoding="utf-8").read()
    statements = [x.strip() for x in ddl.split(";\n") if x.strip()]
    for sql in statements:
        body = "\n".join(l for l in sql.splitlines() if not l.startswith("--")).strip()
        if body:
            s.query(body)
    database = os.environ.get("CW_DATABASE", "cw")
    for sql_path in sorted(glob.glob(os.path.join(folder, "*.sql"))):
        if os.path.basename(sql_path) == "ddl.sql":
            continue
        insert = open(sql_path, encoding="utf-8").read().strip()
        m = re.match(r"INSERT INTO\s+`?(\w+)`?\s*\((.*)\)\s*FORMAT\s+RowBinary\s*$", insert, re.S)
        if not m:
            raise SystemExit(f"{sql_path}: not an INSERT … FORMAT RowBinary: {insert!r}")
        table = m.group(1)
        columns = [c.strip().strip("`") for c in m.group(2).split(",")]
        described = str(s.query(f"DESCRIBE TABLE {database}.{table}", "JSONEachRow"))
        types = {}
        for line in described.splitlines():
            if line.strip():
                row = json.loads(line)
                types[row["name"]] = row["type"]
        structure = ", ".join(f"`{c}` {types[c]}" for c in columns)
        data = sql_path[: -len(".sql")] + ".bin"
        cols = ", ".join(f"`{c}`" for c in columns)
        s.query(
            f"INSERT INTO {database}.{table} ({cols}) "
            f"SELECT {cols} FROM file('{data}', 'RowBinary', '{structure}')"
        )
        out = str(s.query(f"SELECT * FROM {database}.{table}", "JSONEachRow"))
        rows = [json.loads(l) for l in out.splitlines() if l.strip()]
        print(json.dumps({"table": table, "rows": rows}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["version"]:
        version()
    elif sys.argv[1:2] == ["load"] and len(sys.argv) == 3:
        load(sys.argv[2])
    else:
        raise SystemExit(__doc__)
