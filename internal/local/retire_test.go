package local

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Writers that write and close at once still have every record taken:
// their registrations go only once the socket has been seen empty after
// they went, whether the slot's goroutine or a Read takes the records.
func TestGoneWritersRecordsKept(t *testing.T) {
	s, err := Listen(Config{Key: testKey(t), ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 40, 25
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(testKey(t), w%2 == 0)
			if err != nil {
				errc <- err
				return
			}
			for i := 0; i < each; i++ {
				if err := c.Write(make([]byte, 1+(w*each+i)%3000), "", -1); err != nil {
					errc <- err
				}
			}
			c.Close()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	buf := make([]byte, MaxRecord)
	for got := 0; got < writers*each; got++ {
		if _, _, _, err := s.Read(ctx, buf, false); err != nil {
			t.Fatalf("after %d records: %v (stats %+v)", got, err, s.Stats())
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Refused != 0 || st.Records != writers*each {
		t.Fatalf("stats %+v", st)
	}
}
