package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
	"github.com/overvakt/overvakt/pkg/store/storetest"
)

func openAt(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, dir string) store.Store {
			return openAt(t, filepath.Join(dir, "data", "overvakt.db"))
		},
		Persistent: true,
		OpenBackup: openAt,
	})
}

func TestSecondServerIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overvakt.db")
	s := openAt(t, path)
	defer s.Close()
	_, err := sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), path+" is in use by process "+itoa(os.Getpid())) {
		t.Fatalf("second open: %v, want it refused naming the file and the process", err)
	}
	s.Close()
	again, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	again.Close()
}

func TestDamagedFileStopsWithAClearError(t *testing.T) {
	cases := map[string][]byte{
		"not a database": []byte("this is a text file, not SQLite\n"),
		"truncated":      []byte("SQLite format 3\x00\x10\x00"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "overvakt.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := sqlite.Open(context.Background(), path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it away") {
				t.Fatalf("err = %v, want one naming the file and what to do", err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(data) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
