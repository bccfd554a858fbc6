package serverapi

import (
	"reflect"
	"strings"
	"testing"
)

// The command samples of the seed's server API page, as printed there.
var specSamples = []string{
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="add_room" name="test room" owner="aaa" desc="room for test" max="200" speaker="bbb" member="false" pwd="" passallmessage="true" >
<roomOpen>
<Time o="day2" e="10:00:00" s="00:00:00"></Time>
</roomOpen>
</Command>`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="add_room" name="test room" owner="aaa" desc="room for test" max="200" speaker="bbb" member="false" pwd="" passallmessage="true" />`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="del_room" room_id="1" />`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="edit_room" roomid="3412" name="new name" owner="new_owner" desc="new_desc" max="300" speaker="new_speaker" member="true" pwd="new_pwd" passallmessage="false" />`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="broadcast" userid="test" msg="welcome to 123flashcaht" />`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="private_message" dest_uid="test" msg="hello world" emotion="e2" owner_uid="admin" owner_nick="admin" b="1" i="1" u="1" color="0xff00ff" />`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="start_group"/>`,
	`<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="stop_group"/>`,
}

func TestDecodeSpecSamples(t *testing.T) {
	for _, s := range specSamples {
		cmd, err := DecodeFrame([]byte(s + "\x00"))
		if err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
		if cmd.Group != "default" || cmd.Password != "3874-3459-9999-2199" || cmd.Type == "" {
			t.Fatalf("%.60s: decoded %+v", s, cmd)
		}
	}
	cmd, _ := DecodeFrame([]byte(specSamples[0]))
	want := Command{Group: "default", Password: "3874-3459-9999-2199", Type: "add_room",
		Attrs: map[string]string{"name": "test room", "owner": "aaa", "desc": "room for test", "max": "200",
			"speaker": "bbb", "member": "false", "pwd": "", "passallmessage": "true"},
		Times: []OpenTime{{O: "day2", S: "00:00:00", E: "10:00:00"}}, HasTimes: true}
	if !reflect.DeepEqual(cmd, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", cmd, want)
	}
}

func TestDecodeRefusesWhatIsNotACommand(t *testing.T) {
	for in, wantErr := range map[string]string{
		``:                             "empty",
		"  \n":                         "empty",
		`not xml`:                      "unexpected text",
		`<Command type="x"`:            "malformed XML",
		`<Command type="x">`:           "unexpected EOF",
		`<Other/>`:                     "want <Command>",
		`<Command/><Command/>`:         "after </Command>",
		`<Command/>trailing`:           "unexpected text",
		`<Command type="a" type="b"/>`: "twice",
		`<Command a="1" a="2"/>`:       "twice",
		`<Command><foo/></Command>`:    "unexpected element <foo>",
		`<Command><roomOpen><Time x="1"/></roomOpen></Command>`:        "unknown attribute x",
		`<Command><roomOpen><Time><Time/></Time></roomOpen></Command>`: "unexpected element <Time>",
		`<Command>text</Command>`:                                      "unexpected text",
		`<!DOCTYPE x [<!ENTITY a "b">]><Command/>`:                     "DOCTYPE",
		`<?php echo 1; ?><Command/>`:                                   "processing instruction",
		`<x:Command xmlns:x="urn:x"/>`:                                 "namespace",
		`<Command type="&bogus;"/>`:                                    "malformed XML",
		`<?xml version="1.0" encoding="ISO-8859-1"?><Command/>`:        "malformed XML",
	} {
		_, err := DecodeFrame([]byte(in))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("DecodeFrame(%q) = %v, want an error with %q", in, err, wantErr)
		}
	}
	many := "<Command" + strings.Repeat(` a="1"`, 1) // unique names below
	for i := range maxAttrs + 1 {
		many += ` a` + strings.Repeat("x", i) + `="1"`
	}
	if _, err := DecodeFrame([]byte(many + "/>")); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many attributes: %v", err)
	}
}

func TestDecodeAcceptsCommentsAndWhitespace(t *testing.T) {
	cmd, err := DecodeFrame([]byte("\n<!-- c --><Command type=\"get_online\">\n  <!-- x -->\n</Command>\n\x00"))
	if err != nil || cmd.Type != "get_online" {
		t.Fatalf("got %+v, %v", cmd, err)
	}
}

func TestEncodeCommandRoundTrip(t *testing.T) {
	c := Command{Group: "default", Password: `p"w<d>&'`, Type: "add_room",
		Attrs: map[string]string{"name": "a\tb\nc\rd", "desc": "é ✓ 😀", "pwd": ""},
		Times: []OpenTime{{O: "day1", S: "08:00:00", E: "17:00:00"}, {O: "special"}}, HasTimes: true}
	got, err := DecodeFrame(EncodeCommand(c))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", got, c)
	}
}

// FuzzDecodeFrame checks that the decoder never panics and that whatever
// it accepts survives a round trip through EncodeCommand.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range specSamples {
		f.Add([]byte(s + "\x00"))
	}
	f.Add([]byte(`<Command type="get_room_users" room_id="1"/>`))
	f.Add([]byte(`<Command a="&#xD;&#xA;&#x9;&amp;&lt;&quot;"/>`))
	f.Add([]byte("<Command a=\"x\r\ny\"/>"))
	f.Add([]byte(`<Command><roomOpen><Time o="day7"/></roomOpen></Command>`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, err := DecodeFrame(frame)
		if err != nil {
			return
		}
		again, err := DecodeFrame(EncodeCommand(cmd))
		if err != nil {
			t.Fatalf("re-decoding %q: %v", EncodeCommand(cmd), err)
		}
		if len(cmd.Attrs) == 0 {
			cmd.Attrs = nil
		}
		if len(again.Attrs) == 0 {
			again.Attrs = nil
		}
		if !reflect.DeepEqual(cmd, again) {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", cmd, again)
		}
	})
}
