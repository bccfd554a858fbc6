package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds caches binaries built by GoBuild for the life of the test process.
// Test helpers may hold process-wide state; production code may not.
var builds sync.Map // package path -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// GoBuild builds the main package pkg (an import path, or a path relative
// to the module root such as "./plugins/authurl") into a directory that
// lives as long as the test process, naming the binary name. Each package
// is built once per test process.
func GoBuild(t testing.TB, pkg, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg+"\x00"+name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "parlor-build-")
		if err != nil {
			r.err = err
			return
		}
		r.path = filepath.Join(dir, name)
		target := pkg
		if strings.HasPrefix(pkg, "./") {
			target = filepath.Join(ModuleRoot(t), pkg)
		}
		cmd := exec.Command("go", "build", "-o", r.path, target)
		cmd.Dir = ModuleRoot(t)
		r.out, r.err = cmd.CombinedOutput()
	})
	if r.err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, r.err, r.out)
	}
	return r.path
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
