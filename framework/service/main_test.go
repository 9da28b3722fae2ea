package service_test

import (
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// TestMain starts the process's signal loop outside any synctest bubble
// and keeps the signals the tests send from killing the process, then
// fails the package if any goroutine outlives its tests.
func TestMain(m *testing.M) {
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGUSR1, syscall.SIGTERM)
	goleak.VerifyTestMain(m)
}
