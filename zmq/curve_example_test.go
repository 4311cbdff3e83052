package zmq_test

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

// A CURVE-secured REQ/REP pair over loopback tcp. The server's public key
// is given to the client as 40-character Z85 text, as pyzmq prints it.
func ExampleCurveConfig() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	serverPub, serverSec, _ := zmq.NewCurveKeypair()
	serverText, _ := zmq.Z85Encode(serverPub[:])
	_, clientSec, _ := zmq.NewCurveKeypair()
	clientPub, _ := zmq.CurvePublicKey(clientSec)

	rep, _ := zmq.NewSocket(zmq.Rep, &zmq.Config{Curve: &zmq.CurveConfig{
		Server:    true,
		SecretKey: serverSec,
		Authorize: func(k [32]byte) error {
			if k != clientPub {
				return fmt.Errorf("unknown client")
			}
			return nil
		},
	}})
	defer rep.Close()
	rep.Bind("tcp://127.0.0.1:*")

	serverKey, _ := zmq.CurveKey(serverText)
	req, _ := zmq.NewSocket(zmq.Req, &zmq.Config{Curve: &zmq.CurveConfig{
		SecretKey: clientSec,
		ServerKey: serverKey,
	}})
	defer req.Close()
	req.Connect(rep.LastEndpoint())

	req.Send(ctx, zmq.NewMsgString("secret question"))
	q, _ := rep.RecvString(ctx)
	rep.Send(ctx, zmq.NewMsgString("secret answer"))
	a, _ := req.RecvString(ctx)
	fmt.Println(q[0], "/", a[0], "/", len(serverText))
	// Output: secret question / secret answer / 40
}
