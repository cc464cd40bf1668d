package memory_test

import (
	"testing"

	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
	"github.com/overvakt/overvakt/pkg/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Backend{Open: func(*testing.T, string) store.Store { return memory.New() }})
}
