package job

// A Logger receives a job's messages for people, worded as bmaptool words
// them where bmaptool has a message for the event (its callers and tests
// look for those phrases). Errors are not logged: they are returned.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

// quiet is the Logger used when none is given.
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}

func orQuiet(l Logger) Logger {
	if l == nil {
		return quiet{}
	}
	return l
}
