package zmtp

// Compatible reports whether a socket of type local may talk to a peer of
// type peer (names as in the Socket-Type property: "PAIR", "PUB", ...),
// following the table of RFC 37 and libzmq's draft types.
func Compatible(local, peer string) bool {
	switch local {
	case "PAIR":
		return peer == "PAIR"
	case "PUB", "XPUB":
		return peer == "SUB" || peer == "XSUB"
	case "SUB", "XSUB":
		return peer == "PUB" || peer == "XPUB"
	case "REQ":
		return peer == "REP" || peer == "ROUTER"
	case "REP":
		return peer == "REQ" || peer == "DEALER"
	case "DEALER":
		return peer == "REP" || peer == "DEALER" || peer == "ROUTER"
	case "ROUTER":
		return peer == "REQ" || peer == "DEALER" || peer == "ROUTER"
	case "PUSH":
		return peer == "PULL"
	case "PULL":
		return peer == "PUSH"
	case "CLIENT":
		return peer == "SERVER"
	case "SERVER":
		return peer == "CLIENT"
	case "RADIO":
		return peer == "DISH"
	case "DISH":
		return peer == "RADIO"
	case "SCATTER":
		return peer == "GATHER"
	case "GATHER":
		return peer == "SCATTER"
	case "PEER":
		return peer == "PEER"
	case "CHANNEL":
		return peer == "CHANNEL"
	}
	return false
}
