//go:build !unix

package connlimit

import "errors"

// RaiseDescriptorLimit is not available here; callers keep their caps.
func RaiseDescriptorLimit() (soft, hard uint64, err error) {
	return 0, 0, errors.New("no descriptor limit on this system")
}
