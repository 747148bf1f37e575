package streamapi

// ListenPID returns the backend process id of f's listening connection, so
// that a test can cut it.
func ListenPID(f *Fleet) uint32 { return f.listenPID.Load() }
