package memory

import (
	"testing"
	"testing/synctest"
)

// TestTakeWakeAfterResetWithSpare: a wait that begins as the connection
// resets (it passed its failure check just before) takes a wake channel
// after wakeWaits ran. When that channel is a spare, wakeWaits already sent
// it its token; takeWake must hand it out at once, with one token, and not
// block (holding wakeMu, which hung every other wait of the connection).
func TestTakeWakeAfterResetWithSpare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &conn{}
		spare, fresh := c.takeWake(), c.takeWake()
		c.putWake(spare) // as an ended stream leaves it; fresh stays in use
		c.wakeWaits()

		took := make(chan chan struct{}, 2)
		go func() {
			took <- c.takeWake() // the spare
			took <- c.takeWake() // a new channel
		}()
		synctest.Wait()
		if n := len(took); n != 2 {
			<-spare // let the blocked send through, so the test ends
			synctest.Wait()
			t.Fatalf("takeWake after the reset blocked on a spare channel holding a token (%d of 2 taken)", n)
		}
		for i := range 2 {
			ch := <-took
			if n := len(ch); n != 1 {
				t.Errorf("channel %d taken after the reset holds %d tokens, want 1", i, n)
			}
		}
		if n := len(fresh); n != 1 {
			t.Errorf("channel in use at the reset holds %d tokens, want 1", n)
		}
	})
}
