package serverapi_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestSeedPHPClient runs the seed's PHP sample client
// (examples/serverapi-php/client.php) with php-cli against a server.
func TestSeedPHPClient(t *testing.T) {
	php := testenv.Binary(t, "php")
	if out, err := exec.Command(php, "-r", `exit(function_exists("xml_parser_create") ? 0 : 1);`).CombinedOutput(); err != nil {
		testenv.Missing(t, "the xml extension of php-cli (Debian package php-xml)", errors.Join(err, errors.New(strings.TrimSpace(string(out)))))
	}
	client, err := filepath.Abs("../../examples/serverapi-php/client.php")
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, apiConfig(t))
	_, port, _ := strings.Cut(srv.APIAddr(), ":")

	runPHP := func(password string, args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, php, append([]string{client}, args...)...)
		cmd.Env = []string{"PARLOR_API_HOST=127.0.0.1", "PARLOR_API_PORT=" + port, "PARLOR_API_PASSWORD=" + password}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("php: %v\n%s", err, out)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}

	// No arguments: the seed's add_room sample, as printed on its page.
	out, code := runPHP(apiPwd)
	if code != 0 || !strings.Contains(out, "[tag] => Result") || !strings.Contains(out, "[code] => 0") ||
		!strings.Contains(out, "[name] => test room") {
		t.Fatalf("add_room: exit %d\n%s", code, out)
	}
	var id int64
	for _, r := range srv.Group().Rooms() {
		if r.Name == "test room" {
			id = r.ID
		}
	}
	info, ok := srv.Group().RoomInfo(id)
	if !ok || info.Owner != "aaa" || info.Max != 200 || info.Speaker != "bbb" || info.Member || !info.PassAllMessage {
		t.Fatalf("the PHP client's room: %+v", info)
	}

	out, code = runPHP(apiPwd, "get_room_users", "room_id=1")
	if code != 0 || !strings.Contains(out, "[tag] => Users") {
		t.Fatalf("get_room_users: exit %d\n%s", code, out)
	}
	out, code = runPHP("not-the-password", "get_online")
	if code != 4 || !strings.Contains(out, "Wrong api_pwd") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
}
