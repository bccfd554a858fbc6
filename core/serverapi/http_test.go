package serverapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func httpDo(t *testing.T, h http.Handler, method, target, key, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	if key != "" {
		req.Header.Set(APIKeyHeader, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: body %q: %v", method, target, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	return rec.Code, out
}

func TestHTTPTwin(t *testing.T) {
	f := newFixture(t)
	h := f.d.HTTPHandler()

	status, out := httpDo(t, h, "POST", "/api/v1/", testPwd,
		`{"group":"default","type":"add_room","name":"JSON room","max":20,"member":false,"en":true,"roomOpen":[{"o":"day1","s":"08:00:00","e":"09:00:00"}]}`)
	if status != 200 || out["code"] != 0.0 || out["status"] != "ok" {
		t.Fatalf("add_room: %d %v", status, out)
	}
	room := out["room"].(map[string]any)
	if room["name"] != "JSON room" || room["max"] != 20.0 || room["member"] != false || !strings.Contains(out["message"].(string), "schedule module") {
		t.Fatalf("room %v", out)
	}
	id := int64(room["id"].(float64))
	if info, ok := f.g.RoomInfo(id); !ok || info.Max != 20 || info.Member {
		t.Fatalf("room in group: %+v", info)
	}

	status, out = httpDo(t, h, "POST", "/api/v1/edit_room", testPwd, `{"roomid":"`+itoa(id)+`","wb":1}`)
	if status != 200 || out["room"].(map[string]any)["wb"] != true {
		t.Fatalf("edit_room: %d %v", status, out)
	}
	if times, _ := room["roomOpen"].([]any); len(times) != 1 || room["tz"] != "UTC" || room["schedule"] != "off" {
		t.Fatalf("add_room's room shows its times as %v", room)
	}
	// An empty roomOpen removes the times.
	status, out = httpDo(t, h, "POST", "/api/v1/edit_room", testPwd, `{"roomid":"`+itoa(id)+`","roomOpen":[]}`)
	if r := out["room"].(map[string]any); status != 200 || r["roomOpen"] != nil || r["schedule"] != nil || !strings.Contains(out["message"].(string), "no opening times now") {
		t.Fatalf("clearing edit_room: %d %v", status, out)
	}
	if info, _ := f.g.RoomInfo(id); len(info.Schedule) != 0 {
		t.Fatalf("the room keeps %v", info.Schedule)
	}
	status, out = httpDo(t, h, "GET", "/api/v1/get_rooms", testPwd, "")
	if status != 200 || len(out["rooms"].([]any)) != 2 {
		t.Fatalf("get_rooms: %d %v", status, out)
	}
	status, out = httpDo(t, h, "GET", "/api/v1/get_room_users?group=default&room_id=1", testPwd, "")
	if status != 200 || out["users"].(map[string]any)["room"] != 1.0 {
		t.Fatalf("get_room_users: %d %v", status, out)
	}
	status, out = httpDo(t, h, "POST", "/api/v1/get_online", testPwd, "")
	if status != 200 || out["online"].(map[string]any)["rooms"] != 2.0 {
		t.Fatalf("get_online: %d %v", status, out)
	}

	for _, tc := range []struct {
		method, target, key, body string
		status                    int
		code                      Code
		msg                       string
	}{
		{"POST", "/api/v1/", "wrong-key", `{"type":"add_room","name":"x"}`, 403, CodeDenied, "Wrong api_pwd"},
		{"POST", "/api/v1/", "", `{"type":"add_room","name":"x"}`, 403, CodeDenied, "Wrong api_pwd"},
		{"POST", "/api/v1/", testPwd, `{"type":"add_room","name":"x","api_pwd":"` + testPwd + `"}`, 400, CodeMalformed, "X-Parlor-Api-Key header"},
		{"POST", "/api/v1/", testPwd, `{"type":"add_room",`, 400, CodeMalformed, "not a JSON object"},
		{"POST", "/api/v1/", testPwd, `[1]`, 400, CodeMalformed, "not a JSON object"},
		{"POST", "/api/v1/", testPwd, `{"type":"add_room","name":{"x":1}}`, 400, CodeMalformed, "string, a number or a boolean"},
		{"POST", "/api/v1/", testPwd, `{"name":"x"}`, 400, CodeBadArgument, "missing type"},
		{"POST", "/api/v1/add_room", testPwd, `{"type":"del_room"}`, 400, CodeMalformed, "disagrees"},
		{"POST", "/api/v1/fly", testPwd, `{}`, 400, CodeUnknownType, "fly"},
		{"POST", "/api/v1/a/b", testPwd, `{}`, 400, CodeUnknownType, "Unknown path"},
		{"POST", "/api/v1/del_room", testPwd, `{"room_id":99}`, 404, CodeNotFound, "no room 99"},
		{"POST", "/api/v1/", testPwd, `{"group":"nosuch","type":"get_online"}`, 404, CodeNoSuchGroup, "nosuch"},
		{"POST", "/api/v1/", "", `{"group":"off","type":"get_online"}`, 403, CodeDisabled, "api_pwd"},
		{"GET", "/api/v1/add_room?name=x", testPwd, "", 400, CodeBadArgument, "GET is for the query commands"},
		{"GET", "/api/v1/get_room_users?room_id=1&room_id=2", testPwd, "", 400, CodeBadArgument, "2 times"},
		{"POST", "/api/v1/", testPwd, `{"type":"broadcast","msg":"` + strings.Repeat("x", 70<<10) + `"}`, 413, CodeMalformed, "larger than 65536"},
		{"PUT", "/api/v1/get_online", testPwd, "", 405, CodeBadArgument, "Method PUT"},
	} {
		status, out := httpDo(t, h, tc.method, tc.target, tc.key, tc.body)
		if status != tc.status || out["code"] != float64(tc.code) || !strings.Contains(out["message"].(string), tc.msg) {
			t.Errorf("%s %s %.60s: %d %v, want %d code %d with %q", tc.method, tc.target, tc.body, status, out, tc.status, tc.code, tc.msg)
		}
	}

	// Allowed addresses apply to the JSON twin too.
	req := httptest.NewRequest("POST", "/api/v1/get_online", nil)
	req.RemoteAddr = "203.0.113.9:5555"
	req.Header.Set(APIKeyHeader, testPwd)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "203.0.113.9") {
		t.Fatalf("foreign address: %d %s", rec.Code, rec.Body.String())
	}
	if _, _, rooms := f.g.Counts(); rooms != 2 {
		t.Fatalf("refused requests acted: %d rooms", rooms)
	}
}
