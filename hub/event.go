package hub

import (
	"sort"
	"time"
)

// EventKind names what an Event reports. The values are the Socket.IO
// event names the chat uses.
type EventKind string

// The events the Hub sends to connections.
const (
	// EventSaid: a message said in a room (Room, User as the sender,
	// Text, ID, At). Goes to the room's members except the sending
	// connection.
	EventSaid EventKind = "said"
	// EventJoined: User entered Room. Goes to the room's members.
	EventJoined EventKind = "joined"
	// EventLeft: User left Room. Goes to the room's remaining members.
	EventLeft EventKind = "left"
	// EventPresence: User went State (StateOnline or StateOffline). Goes
	// to every connection.
	EventPresence EventKind = "presence"
	// EventTold: a message from User to the user To (Text, ID, At). Goes
	// to every connection of To except the sending connection.
	EventTold EventKind = "told"
	// EventTopic: User set the topic of Room to Text ("" clears it). Goes
	// to every member of the room, the setting connection included.
	EventTopic EventKind = "topic"
)

// Presence states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Event is one thing the Hub tells a connection. Which fields are set
// depends on Kind (see the EventKind constants). The Hub hands the same
// Event value to every recipient; it must be treated as read-only.
type Event struct {
	Kind  EventKind
	Room  string
	User  string
	To    string // EventTold: the user told
	State string
	Text  string
	ID    string
	At    time.Time
}

// Message is a message the Hub accepted from Say.
type Message struct {
	Room string // "" for a Tell
	From string
	To   string // the user told; "" for a Say
	Text string
	ID   string    // unique within the Hub's lifetime
	At   time.Time // when the Hub accepted it
}

func sortStrings(s []string) { sort.Strings(s) }
