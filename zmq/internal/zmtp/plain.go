package zmtp

import (
	"errors"
	"fmt"
)

// PLAIN command names (rfc.zeromq.org 24/ZMTP-PLAIN).
const (
	CmdHello    = "HELLO"
	CmdWelcome  = "WELCOME"
	CmdInitiate = "INITIATE"
)

// ErrAuth reports PLAIN credentials the server refused.
var ErrAuth = errors.New("zmtp: authentication failed")

// Plain is the PLAIN mechanism (clear-text user name and password). The
// client sends HELLO and, after WELCOME, INITIATE with its metadata; the
// server checks HELLO with Authenticate and answers INITIATE with READY.
type Plain struct {
	// Server selects the role; the greeting's as-server flag is not
	// trusted (libzmq always sends 0).
	Server bool
	// Username and Password are the client's credentials (0-255 bytes).
	Username, Password string
	// Authenticate checks a client's credentials on the server; nil
	// accepts everyone.
	Authenticate func(username, password string) bool
	// Metadata is sent in INITIATE (client) or READY (server).
	Metadata Metadata

	state int
}

// Name returns "PLAIN".
func (p *Plain) Name() string { return "PLAIN" }

// AsServer reports the role.
func (p *Plain) AsServer() bool { return p.Server }

// Start returns HELLO for a client, nothing for a server.
func (p *Plain) Start() []byte {
	if p.Server {
		return nil
	}
	u, pw := p.Username, p.Password
	if len(u) > 255 {
		u = u[:255]
	}
	if len(pw) > 255 {
		pw = pw[:255]
	}
	data := make([]byte, 0, 2+len(u)+len(pw))
	data = append(append(append(data, byte(len(u))), u...), byte(len(pw)))
	data = append(data, pw...)
	return AppendCommand(nil, CmdHello, data)
}

// Next advances the handshake by one received command.
func (p *Plain) Next(cmd Command) ([]byte, Metadata, bool, error) {
	if cmd.Name == CmdError {
		reason, err := ParseError(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		return nil, nil, false, &PeerError{Reason: reason}
	}
	switch {
	case p.Server && p.state == 0 && cmd.Name == CmdHello:
		user, pass, err := parseHello(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		if p.Authenticate != nil && !p.Authenticate(user, pass) {
			return AppendError(nil, "400"), nil, false, fmt.Errorf("%w: user %q", ErrAuth, user)
		}
		p.state = 1
		return AppendCommand(nil, CmdWelcome, nil), nil, false, nil
	case p.Server && p.state == 1 && cmd.Name == CmdInitiate:
		md, err := ParseMetadata(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		p.state = 2
		return AppendReady(nil, p.Metadata), md, true, nil
	case !p.Server && p.state == 0 && cmd.Name == CmdWelcome:
		p.state = 1
		return AppendCommand(nil, CmdInitiate, AppendMetadata(nil, p.Metadata)), nil, false, nil
	case !p.Server && p.state == 1 && cmd.Name == CmdReady:
		md, err := ParseMetadata(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		p.state = 2
		return nil, md, true, nil
	}
	return nil, nil, false, fmt.Errorf("%w: %q in PLAIN", ErrHandshake, cmd.Name)
}

func parseHello(b []byte) (user, pass string, err error) {
	if len(b) < 1 || len(b) < 1+int(b[0])+1 {
		return "", "", fmt.Errorf("%w: HELLO", ErrCommand)
	}
	user = string(b[1 : 1+b[0]])
	b = b[1+b[0]:]
	if int(b[0]) != len(b)-1 {
		return "", "", fmt.Errorf("%w: HELLO password length", ErrCommand)
	}
	return user, string(b[1:]), nil
}
