package mailslot_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/mailslot-go/mailslot"
)

// A server creates a slot and reads what clients write, one record at a time.
func ExampleCreate() {
	s, err := mailslot.Create(`\\.\mailslot\example\jobs`, mailslot.WithReadTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	c, err := mailslot.Open(`\\.\mailslot\example\jobs`)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("job 1 done"))
	c.Write([]byte("job 2 done"))

	info, _ := s.Info()
	fmt.Println("next size:", info.NextSize)
	buf := make([]byte, info.NextSize)
	for {
		n, err := s.Read(buf)
		if errors.Is(err, mailslot.ErrTimeout) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(buf[:n]))
	}
	// Output:
	// next size: 10
	// job 1 done
	// job 2 done
}

// A client opens a slot by name; with nobody serving it, Open fails.
func ExampleOpen() {
	_, err := mailslot.Open(`\\.\mailslot\example\nobody`)
	fmt.Println(errors.Is(err, mailslot.ErrNotFound))

	s, err := mailslot.Create(`\\.\mailslot\example\alerts`)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Names compare case-insensitively, and slashes work as well.
	c, err := mailslot.Open(`//./MAILSLOT/Example/Alerts`)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("server reboots in 5 minutes")); err != nil {
		log.Fatal(err)
	}
	m, err := s.ReadMessage(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(m.Data))
	// Output:
	// true
	// server reboots in 5 minutes
}

// Names parse into a host and a path.
func ExampleParseName() {
	for _, s := range []string{`\\.\mailslot\app\jobs`, `\\*\mailslot\browse`, `//server1/mailslot/messngr`} {
		n, err := mailslot.ParseName(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-10s %-10s local=%v broadcast=%v\n", n.Host, n.Path, n.IsLocal(), n.IsBroadcast())
	}
	// Output:
	// .          app\jobs   local=true broadcast=false
	// *          browse     local=false broadcast=true
	// SERVER1    messngr    local=false broadcast=false
}
