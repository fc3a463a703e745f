package pop3d

// handler is one command: the states it is valid in, its argument count
// and its implementation.
type handler struct {
	states           [2]bool // indexed by state
	minArgs, maxArgs int     // maxArgs < 0: no upper bound
	fn               func(*session, command) error
}

var (
	inAuthorization = [2]bool{stateAuthorization: true}
	inTransaction   = [2]bool{stateTransaction: true}
	inBoth          = [2]bool{true, true}
)

// handlers lists the commands pail implements. APOP is left out on
// purpose (see the package comment).
var handlers = map[string]handler{
	// RFC 2449 §5; RFC 2595 §4; RFC 1939 §7; RFC 5034 §4.
	"CAPA": {inBoth, 0, 0, (*session).capa},
	"STLS": {inAuthorization, 0, 0, (*session).stls},
	"USER": {inAuthorization, 1, 1, (*session).userCmd},
	"PASS": {inAuthorization, 1, -1, (*session).pass},
	"AUTH": {inAuthorization, 0, 2, (*session).auth},
	"QUIT": {inBoth, 0, 0, (*session).quit},
	// RFC 1939 §5 and §7.
	"STAT": {inTransaction, 0, 0, (*session).stat},
	"LIST": {inTransaction, 0, 1, (*session).list},
	"UIDL": {inTransaction, 0, 1, (*session).uidl},
	"RETR": {inTransaction, 1, 1, (*session).retr},
	"TOP":  {inTransaction, 2, 2, (*session).top},
	"DELE": {inTransaction, 1, 1, (*session).dele},
	"NOOP": {inTransaction, 0, 0, (*session).noop},
	"RSET": {inTransaction, 0, 0, (*session).rset},
}
