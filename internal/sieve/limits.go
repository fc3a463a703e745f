package sieve

// Limits bounds what a script may cost, at compile time and at run time.
// A zero field takes its default (DefaultLimits).
type Limits struct {
	// MaxScriptBytes bounds the source of one script.
	MaxScriptBytes int
	// MaxNesting bounds the depth of blocks and tests inside each other.
	MaxNesting int
	// MaxCommands bounds the commands and tests of one script.
	MaxCommands int
	// MaxStringBytes bounds one string literal.
	MaxStringBytes int
	// MaxListItems bounds the strings of one string list and the tests of
	// one test list.
	MaxListItems int

	// MaxSteps bounds the commands, tests and comparisons of one run,
	// included scripts counted: the CPU a script may take.
	MaxSteps int
	// MaxVariableBytes bounds a variable's value and any string built by
	// expanding variables (RFC 5229 §6 lets implementations limit them).
	MaxVariableBytes int
	// MaxVariables bounds the distinct variables of one run.
	MaxVariables int
	// MaxRedirects bounds the redirect actions of one run (RFC 5228
	// §2.10.5, §10: a script must not turn one message into many).
	MaxRedirects int
	// MaxActions bounds the actions of one run.
	MaxActions int
	// MaxIncludeDepth bounds nested includes (RFC 6609 §3.2 lets
	// implementations limit it).
	MaxIncludeDepth int
	// MaxIncludes bounds the include commands executed in one run.
	MaxIncludes int
	// MaxBodyBytes bounds how much of a message's body the body test
	// reads; text past it is not searched.
	MaxBodyBytes int
}

// Defaults, each with its reason.
const (
	// defaultMaxScriptBytes: 1 MiB holds thousands of rules; Dovecot's
	// default ManageSieve maximum is the same order.
	defaultMaxScriptBytes = 1 << 20
	// defaultMaxNesting: hand-written scripts rarely nest past 5; 32
	// keeps recursion shallow.
	defaultMaxNesting = 32
	// defaultMaxCommands: a 1 MiB script of short rules.
	defaultMaxCommands = 20000
	// defaultMaxStringBytes: a vacation text or a long key list item.
	defaultMaxStringBytes = 256 << 10
	// defaultMaxListItems: address lists of a few thousand entries.
	defaultMaxListItems = 4096
	// defaultMaxSteps: every command once plus comparisons, with room;
	// a few milliseconds of CPU.
	defaultMaxSteps = 1000000
	// defaultMaxVariableBytes: RFC 5229 §6 requires at least 4000
	// octets; 64 KiB leaves room for a vacation text built from parts.
	defaultMaxVariableBytes = 64 << 10
	// defaultMaxVariables: RFC 5229 §6 requires at least 128.
	defaultMaxVariables = 256
	// defaultMaxRedirects: forwarding to a few addresses, not a list.
	defaultMaxRedirects = 4
	// defaultMaxActions: all filing and flagging a script sensibly does.
	defaultMaxActions = 64
	// defaultMaxIncludeDepth and defaultMaxIncludes: a personal script
	// with a few global libraries.
	defaultMaxIncludeDepth = 8
	defaultMaxIncludes     = 32
	// defaultMaxBodyBytes: the text of ordinary mail.
	defaultMaxBodyBytes = 1 << 20
)

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxScriptBytes:   defaultMaxScriptBytes,
		MaxNesting:       defaultMaxNesting,
		MaxCommands:      defaultMaxCommands,
		MaxStringBytes:   defaultMaxStringBytes,
		MaxListItems:     defaultMaxListItems,
		MaxSteps:         defaultMaxSteps,
		MaxVariableBytes: defaultMaxVariableBytes,
		MaxVariables:     defaultMaxVariables,
		MaxRedirects:     defaultMaxRedirects,
		MaxActions:       defaultMaxActions,
		MaxIncludeDepth:  defaultMaxIncludeDepth,
		MaxIncludes:      defaultMaxIncludes,
		MaxBodyBytes:     defaultMaxBodyBytes,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxScriptBytes, d.MaxScriptBytes)
	set(&l.MaxNesting, d.MaxNesting)
	set(&l.MaxCommands, d.MaxCommands)
	set(&l.MaxStringBytes, d.MaxStringBytes)
	set(&l.MaxListItems, d.MaxListItems)
	set(&l.MaxSteps, d.MaxSteps)
	set(&l.MaxVariableBytes, d.MaxVariableBytes)
	set(&l.MaxVariables, d.MaxVariables)
	set(&l.MaxRedirects, d.MaxRedirects)
	set(&l.MaxActions, d.MaxActions)
	set(&l.MaxIncludeDepth, d.MaxIncludeDepth)
	set(&l.MaxIncludes, d.MaxIncludes)
	set(&l.MaxBodyBytes, d.MaxBodyBytes)
	return l
}
