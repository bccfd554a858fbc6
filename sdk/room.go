package sdk

// Room is a room as the Host API and hooks give it.
type Room struct {
	ID      int64
	Name    string
	Desc    string
	Owner   string // moderators, comma separated (the seed's owner list)
	Speaker string // speakers, comma separated
	Max     int    // capacity; 0 means unlimited
	Guests  bool   // guests may enter (the seed's member flag)
	// Password is the entry password: set it when creating or editing;
	// the host never gives it back (Locked says whether there is one).
	Password   string
	Locked     bool
	Open       bool
	Moderated  bool // the seed's passallmessage: pre-moderated, fail-closed
	Welcome    string
	Audio      bool
	Video      bool
	Whiteboard bool
	Count      int // members now
}
