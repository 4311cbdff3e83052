package endpoint

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Errors of inherited (fd://) and vsock endpoints.
var (
	ErrNotActivated = errors.New("endpoint: no sockets passed by systemd (LISTEN_PID/LISTEN_FDS unset or for another process)")
	ErrNoVsock      = errors.New("endpoint: no vsock transport (the kernel needs AF_VSOCK and a transport: a VM, or vsock_loopback for CID 1)")
	ErrReadOnly     = errors.New("endpoint: this endpoint is read-only")
)

// listenFDsStart is SD_LISTEN_FDS_START.
const listenFDsStart = 3

var (
	aLongTimeAgo = time.Unix(1, 0)
	noDeadline   time.Time
)

// activationFD resolves fd://NUMBER or fd://NAME following systemd's
// sd_listen_fds protocol: LISTEN_PID must be our pid, LISTEN_FDS counts the
// descriptors from 3 on, LISTEN_FDNAMES names them, colon-separated.
func activationFD(name string, getenv func(string) string, pid int) (int, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	lp, lf := getenv("LISTEN_PID"), getenv("LISTEN_FDS")
	if lf == "" || (lp != "" && lp != strconv.Itoa(pid)) {
		return 0, ErrNotActivated
	}
	count, err := strconv.Atoi(lf)
	if err != nil || count < 0 || count > 1024 {
		return 0, fmt.Errorf("endpoint: bad LISTEN_FDS %q", lf)
	}
	names := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	for i := 0; i < count && i < len(names); i++ {
		if names[i] == name {
			return listenFDsStart + i, nil
		}
	}
	return 0, fmt.Errorf("endpoint: no socket named %q in LISTEN_FDNAMES=%q", name, getenv("LISTEN_FDNAMES"))
}
