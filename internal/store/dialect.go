package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"pail/internal/sqldb"
)

// This file holds what differs between the store's two databases: the
// handle and transaction types that write every query once, with ?
// placeholders, and rebind it for PostgreSQL ($1, $2, ...), and the few
// SQL fragments that cannot be written once (dialect). Everything else is
// the same SQL on both: INSERT ... ON CONFLICT, RETURNING, plain types.
//
// On SQLite the wrappers add nothing: Rebind returns its argument at
// once, and arguments pass through unchanged.

// sqlDB is the store's database handle: a database/sql handle whose
// query methods take ? placeholders.
type sqlDB struct {
	*sql.DB
	dialect sqldb.Dialect
	// pgQueries caches queries as PostgreSQL is given them (pgQuery).
	pgQueries sync.Map
	pgCached  atomic.Int32
}

// maxPGQueries bounds pgQueries: the store's query texts are fixed but
// for a few built to a request's shape (searches), which need no cache.
const maxPGQueries = 1024

// q returns query as the dialect takes it: unchanged on SQLite; on
// PostgreSQL with SQLite's json_extract(col, '$.A.B[0]') written as
// (col::jsonb #>> '{A,B,0}'), instr( as strpos( (the same arguments),
// and ? as $n.
func (db *sqlDB) q(query string) string {
	if db.dialect != sqldb.Postgres {
		return query
	}
	if v, ok := db.pgQueries.Load(query); ok {
		return v.(string)
	}
	out := pgQuery(query)
	if db.pgCached.Load() < maxPGQueries {
		if _, loaded := db.pgQueries.LoadOrStore(query, out); !loaded {
			db.pgCached.Add(1)
		}
	}
	return out
}

// jsonExtract matches SQLite's json_extract of a column at a constant
// path of keys and indexes.
var jsonExtract = regexp.MustCompile(`json_extract\(([\w.]+), '\$((?:\.\w+|\[\d+\])*)'\)`)

// jsonStep is one key or index of a path.
var jsonStep = regexp.MustCompile(`\.(\w+)|\[(\d+)\]`)

// pgQuery rewrites a query for PostgreSQL (see sqlDB.q).
func pgQuery(query string) string {
	if strings.Contains(query, "json_extract(") {
		query = jsonExtract.ReplaceAllStringFunc(query, func(m string) string {
			sub := jsonExtract.FindStringSubmatch(m)
			var keys []string
			for _, st := range jsonStep.FindAllStringSubmatch(sub[2], -1) {
				keys = append(keys, st[1]+st[2])
			}
			return "(" + sub[1] + "::jsonb #>> '{" + strings.Join(keys, ",") + "}')"
		})
	}
	query = strings.ReplaceAll(query, "instr(", "strpos(")
	return sqldb.Postgres.Rebind(query)
}

// pg reports whether the database is PostgreSQL.
func (db *sqlDB) pg() bool { return db.dialect == sqldb.Postgres }

// args adapts arguments to the dialect: PostgreSQL does not take a Go
// bool for an INTEGER column (the store's booleans are 0 or 1 integers,
// as in SQLite).
func (db *sqlDB) args(args []any) []any {
	if !db.pg() {
		return args
	}
	return pgArgs(args)
}

// pgArgs writes bools as 0 or 1, copying args only when one is there.
func pgArgs(args []any) []any {
	out := args
	for i, a := range args {
		if b, ok := a.(bool); ok {
			if &out[0] == &args[0] {
				out = append([]any(nil), args...)
			}
			out[i] = boolInt(b)
		}
	}
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ExecContext runs a statement written with ? placeholders.
func (db *sqlDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.DB.ExecContext(ctx, db.q(query), db.args(args)...)
}

// QueryContext runs a query written with ? placeholders.
func (db *sqlDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.DB.QueryContext(ctx, db.q(query), db.args(args)...)
}

// QueryRowContext runs a query written with ? placeholders that returns
// at most one row.
func (db *sqlDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.DB.QueryRowContext(ctx, db.q(query), db.args(args)...)
}

// Exec is ExecContext without a context.
func (db *sqlDB) Exec(query string, args ...any) (sql.Result, error) {
	return db.ExecContext(context.Background(), query, args...)
}

// Query is QueryContext without a context.
func (db *sqlDB) Query(query string, args ...any) (*sql.Rows, error) {
	return db.QueryContext(context.Background(), query, args...)
}

// QueryRow is QueryRowContext without a context.
func (db *sqlDB) QueryRow(query string, args ...any) *sql.Row {
	return db.QueryRowContext(context.Background(), query, args...)
}

// PrepareContext prepares a statement written with ? placeholders.
func (db *sqlDB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.DB.PrepareContext(ctx, db.q(query))
}

// begin starts a transaction (on SQLite it takes the write lock).
func (db *sqlDB) begin(ctx context.Context) (*dbTx, error) {
	tx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &dbTx{Tx: tx, db: db}, nil
}

// dbTx is a transaction whose query methods take ? placeholders.
type dbTx struct {
	*sql.Tx
	db *sqlDB
}

// pg reports whether the transaction is PostgreSQL's.
func (tx *dbTx) pg() bool { return tx.db.pg() }

// Exec runs a statement written with ? placeholders.
func (tx *dbTx) Exec(query string, args ...any) (sql.Result, error) {
	return tx.Tx.Exec(tx.db.q(query), tx.db.args(args)...)
}

// Query runs a query written with ? placeholders.
func (tx *dbTx) Query(query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.Query(tx.db.q(query), tx.db.args(args)...)
}

// QueryRow runs a query written with ? placeholders that returns at most
// one row.
func (tx *dbTx) QueryRow(query string, args ...any) *sql.Row {
	return tx.Tx.QueryRow(tx.db.q(query), tx.db.args(args)...)
}

// ExecContext is Exec with a context.
func (tx *dbTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.db.q(query), tx.db.args(args)...)
}

// QueryContext is Query with a context.
func (tx *dbTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.db.q(query), tx.db.args(args)...)
}

// QueryRowContext is QueryRow with a context.
func (tx *dbTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.db.q(query), tx.db.args(args)...)
}

// Prepare prepares a statement written with ? placeholders on the
// transaction.
func (tx *dbTx) Prepare(query string) (*sql.Stmt, error) {
	return tx.Tx.Prepare(tx.db.q(query))
}

// dialect holds the SQL fragments that differ between SQLite and
// PostgreSQL, each written where a query needs it.
type dialect struct {
	// forUpdate ends a SELECT of a mailbox row whose uidnext or modseq
	// the transaction then raises: PostgreSQL locks the row, so that two
	// nodes writing to one mailbox take turns and never hand out one UID
	// or MODSEQ twice; SQLite's one writer needs nothing.
	forUpdate string
	// uidsIn is "IN (the UIDs of a JSON array argument, uidList)".
	uidsIn string
	// uidsTable is a table j of one column, value, holding the UIDs of a
	// JSON array argument.
	uidsTable string
	// flagsUpdate sets flags and modseq of messages from a JSON array
	// of [id, "flags"] pairs (the second argument; the first is modseq).
	flagsUpdate string
	// deletedSQL reads the states of a mailbox's messages whose flags
	// may hold \Deleted (PostgreSQL's LIKE takes the backslash as its
	// escape).
	deletedSQL string
}

var sqliteDialect = dialect{
	forUpdate: "",
	uidsIn:    "IN (SELECT value FROM json_each(?))",
	uidsTable: "json_each(?) j",
	flagsUpdate: `UPDATE messages SET flags = json_extract(u.value, '$[1]'), modseq = ?
			FROM json_each(?) AS u WHERE messages.id = json_extract(u.value, '$[0]')`,
	deletedSQL: `SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND flags LIKE '%\Deleted%' ORDER BY uid`,
}

var pgDialect = dialect{
	forUpdate: " FOR UPDATE",
	uidsIn:    "IN (SELECT value::bigint FROM jsonb_array_elements_text(?::jsonb))",
	uidsTable: "(SELECT value::bigint AS value FROM jsonb_array_elements_text(?::jsonb)) j",
	flagsUpdate: `UPDATE messages SET flags = u.value->>1, modseq = ?
			FROM jsonb_array_elements(?::jsonb) AS u WHERE messages.id = (u.value->>0)::bigint`,
	deletedSQL: `SELECT id, uid, modseq, flags, recent FROM messages WHERE mailbox_id = ? AND flags LIKE '%\\Deleted%' ORDER BY uid`,
}

// sqlDialect returns the fragments of d.
func sqlDialect(d sqldb.Dialect) *dialect {
	if d == sqldb.Postgres {
		return &pgDialect
	}
	return &sqliteDialect
}

// isUnique reports whether err is a unique constraint's violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
