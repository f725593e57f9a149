// yamux-peer is the Go reference side of Warren's Yamux interop tests (test/tunnel/interop.test.ts).
// It speaks hashicorp/yamux over one TCP connection, as server (-listen) or client (-dial).
//
// Streams opened by the test start with one command byte:
//
//	C  control: line commands, answered with one line each (see control below)
//	E  echo until EOF, then close
//	H  read until EOF, answer the hex SHA-256 of what was read, close
//	G  read u64 length + i64 seed, write that many PRNG bytes then their SHA-256 (32 bytes), close
//	R  answer "r", read until an error; report it on the control stream as "rst <id> <error>"
//	W  write until an error; report it on the control stream as "wrst <id> <error>"
//
// Build in GOPATH mode against Debian's golang-github-hashicorp-yamux-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o test/interop/bin/yamux-peer ./test/interop/yamux-peer
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

type peer struct {
	sess  *yamux.Session
	ctlMu sync.Mutex
	ctl   *yamux.Stream
	gate  sync.Mutex // held while accepting is paused
}

func main() {
	listen := flag.String("listen", "", "listen on this address, accept one connection, act as yamux server")
	dial := flag.String("dial", "", "dial this address, act as yamux client")
	window := flag.Int("window", 256*1024, "MaxStreamWindowSize")
	backlog := flag.Int("backlog", 256, "AcceptBacklog")
	flag.Parse()

	cfg := yamux.DefaultConfig()
	cfg.MaxStreamWindowSize = uint32(*window)
	cfg.AcceptBacklog = *backlog
	cfg.LogOutput = os.Stderr

	var conn net.Conn
	var err error
	server := false
	switch {
	case *listen != "":
		ln, lerr := net.Listen("tcp", *listen)
		if lerr != nil {
			fatal(lerr)
		}
		fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
		conn, err = ln.Accept()
		ln.Close()
		server = true
	case *dial != "":
		conn, err = net.Dial("tcp", *dial)
	default:
		fatal(fmt.Errorf("need -listen or -dial"))
	}
	if err != nil {
		fatal(err)
	}
	p := &peer{}
	if server {
		p.sess, err = yamux.Server(conn, cfg)
	} else {
		p.sess, err = yamux.Client(conn, cfg)
	}
	if err != nil {
		fatal(err)
	}
	for {
		s, err := p.sess.AcceptStream()
		if err != nil {
			fmt.Fprintf(os.Stderr, "accept loop ended: %v\n", err)
			os.Exit(0)
		}
		p.gate.Lock()
		p.gate.Unlock()
		go p.handle(s)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "yamux-peer: %v\n", err)
	os.Exit(2)
}

func (p *peer) report(format string, args ...interface{}) {
	p.ctlMu.Lock()
	defer p.ctlMu.Unlock()
	if p.ctl == nil {
		fmt.Fprintf(os.Stderr, "no control stream for report: "+format+"\n", args...)
		return
	}
	fmt.Fprintf(p.ctl, format+"\n", args...)
}

func (p *peer) handle(s *yamux.Stream) {
	var cmd [1]byte
	if _, err := io.ReadFull(s, cmd[:]); err != nil {
		fmt.Fprintf(os.Stderr, "stream %d: reading command: %v\n", s.StreamID(), err)
		s.Close()
		return
	}
	switch cmd[0] {
	case 'C':
		p.ctlMu.Lock()
		p.ctl = s
		p.ctlMu.Unlock()
		p.control(s)
	case 'E':
		if _, err := io.Copy(s, s); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: echo: %v\n", s.StreamID(), err)
		}
		s.Close()
	case 'H':
		h := sha256.New()
		if _, err := io.Copy(h, s); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: hash: %v\n", s.StreamID(), err)
		}
		io.WriteString(s, hex.EncodeToString(h.Sum(nil)))
		s.Close()
	case 'G':
		var hdr [16]byte
		if _, err := io.ReadFull(s, hdr[:]); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: generate header: %v\n", s.StreamID(), err)
			s.Close()
			return
		}
		n := binary.BigEndian.Uint64(hdr[0:8])
		rng := rand.New(rand.NewSource(int64(binary.BigEndian.Uint64(hdr[8:16]))))
		h := sha256.New()
		buf := make([]byte, 64*1024)
		for n > 0 {
			k := uint64(len(buf))
			if n < k {
				k = n
			}
			rng.Read(buf[:k])
			h.Write(buf[:k])
			if _, err := s.Write(buf[:k]); err != nil {
				fmt.Fprintf(os.Stderr, "stream %d: generate: %v\n", s.StreamID(), err)
				return
			}
			n -= k
		}
		s.Write(h.Sum(nil))
		s.Close()
	case 'R':
		// Acknowledge first: a stream reset before this goroutine read the command would lose the command.
		s.Write([]byte{'r'})
		_, err := io.Copy(io.Discard, s)
		p.report("rst %d %v", s.StreamID(), err)
	case 'W':
		buf := bytes.Repeat([]byte{'w'}, 32*1024)
		var err error
		for err == nil {
			_, err = s.Write(buf)
		}
		p.report("wrst %d %v", s.StreamID(), err)
	default:
		fmt.Fprintf(os.Stderr, "stream %d: unknown command %q\n", s.StreamID(), cmd[0])
		s.Close()
	}
}

// control answers one line per command:
//
//	ping                       -> "pong <microseconds>"
//	goaway                     -> "goaway-ok"
//	pause-accept               -> "pause-ok" (the next accepted stream waits; the backlog fills up)
//	resume-accept              -> "resume-ok"
//	streams <n>                -> "streams <NumStreams>" once NumStreams == n, or after 2 s
//	open <count> <max> <seed>  -> opens streams to the test; each sends u64 size + PRNG bytes, expects
//	                              them echoed back followed by EOF, then closes; "open-ok <count>" or "open-err <error>"
func (p *peer) control(s *yamux.Stream) {
	r := bufio.NewReader(s)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ping":
			rtt, err := p.sess.Ping()
			if err != nil {
				p.report("ping-err %v", err)
			} else {
				p.report("pong %d", rtt.Microseconds())
			}
		case "goaway":
			if err := p.sess.GoAway(); err != nil {
				p.report("goaway-err %v", err)
			} else {
				p.report("goaway-ok")
			}
		case "pause-accept":
			p.gate.Lock()
			p.report("pause-ok")
		case "resume-accept":
			p.gate.Unlock()
			p.report("resume-ok")
		case "streams":
			want, _ := strconv.Atoi(f[1])
			deadline := time.Now().Add(2 * time.Second)
			for p.sess.NumStreams() != want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			p.report("streams %d", p.sess.NumStreams())
		case "open":
			count, _ := strconv.Atoi(f[1])
			max, _ := strconv.Atoi(f[2])
			seed, _ := strconv.ParseInt(f[3], 10, 64)
			go p.openMany(count, max, seed)
		default:
			p.report("unknown %q", f[0])
		}
	}
}

func (p *peer) openMany(count, max int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	sizes := make([]int, count)
	for i := range sizes {
		sizes[i] = 1 + rng.Intn(max)
	}
	errs := make(chan error, count)
	for i := 0; i < count; i++ {
		s, err := p.sess.OpenStream()
		if err != nil {
			errs <- err
			continue
		}
		go func(s *yamux.Stream, size int, seed int64) {
			errs <- echoCheck(s, size, seed)
		}(s, sizes[i], seed+int64(i))
	}
	var first error
	for i := 0; i < count; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		p.report("open-err %v", first)
	} else {
		p.report("open-ok %d", count)
	}
}

func echoCheck(s *yamux.Stream, size int, seed int64) error {
	defer s.Close()
	data := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(data)
	werr := make(chan error, 1)
	go func() {
		var hdr [8]byte
		binary.BigEndian.PutUint64(hdr[:], uint64(size))
		if _, err := s.Write(hdr[:]); err != nil {
			werr <- err
			return
		}
		_, err := s.Write(data)
		werr <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("stream %d: read echo: %v", s.StreamID(), err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %v", s.StreamID(), err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		return fmt.Errorf("stream %d: echo of %d bytes came back as %d different bytes", s.StreamID(), size, len(got))
	}
	return nil
}
