//go:build unix

package connlimit

import "syscall"

// RaiseDescriptorLimit lifts the soft limit on open files to the hard one
// and returns both as they are then.
func RaiseDescriptorLimit() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, err
	}
	if r.Cur < r.Max {
		raised := syscall.Rlimit{Cur: r.Max, Max: r.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			r = raised
		}
	}
	return uint64(r.Cur), uint64(r.Max), nil
}
