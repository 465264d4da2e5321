// Package etcdtest starts a real etcd for tests with scripts/dev-store.sh, the way an operator
// does, and can stop and restart it on the same port and data.
package etcdtest

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Server is a running (or stopped) etcd.
type Server struct {
	URL  string // the --store URL the script printed
	Addr string // 127.0.0.1:port
	dir  string
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "scripts", "dev-store.sh")
}

// Start runs scripts/dev-store.sh on a free port with its data in a temporary directory and
// waits until etcd answers. It skips the test when etcd is not installed and cannot be
// (dev-store.sh installs Debian's etcd-server as root). Cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir(), t: t}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	port := strings.TrimPrefix(s.Addr, "127.0.0.1:")
	log, err := os.OpenFile(filepath.Join(s.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script(), port, s.dir)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd, s.log, s.done = cmd, log, make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case line, ok := <-lines:
		if !ok {
			<-s.done
			b, _ := os.ReadFile(log.Name())
			if strings.Contains(string(b), "could not be installed") {
				t.Skipf("no etcd: %s", b)
			}
			t.Fatalf("dev-store.sh printed no URL: %s", b)
		}
		s.URL = line
	case <-time.After(5 * time.Minute): // an install of etcd-server may be running
		t.Fatal("dev-store.sh printed no URL in 5 minutes")
	}
	if !strings.HasPrefix(s.URL, "etcd://"+s.Addr) {
		t.Fatalf("dev-store.sh printed %q, want etcd://%s/...", s.URL, s.Addr)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Addr}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "ready")
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("etcd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not answer in 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends etcd with SIGTERM and waits for it; stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM) // dev-store.sh execs etcd: this is etcd
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd = nil
}

// Restart starts etcd again on the same port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}
