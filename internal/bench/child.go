//go:build !windows

package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ChildEnv, when set in a process's environment, makes Child turn that
// process into a bench worker: the benchmarks re-execute their own binary
// with it so that writers run in other processes, as real clients do.
const ChildEnv = "MAILSLOT_BENCH_CHILD"

// A Task is one job a worker runs. It sets itself up from args (opens,
// connects), then calls ready, which tells the parent it is ready and waits
// for the parent's go; then it does the timed work and returns the text of
// its result line. An error from ready means the parent called the run off.
type Task func(args []string, ready func() error) (string, error)

var (
	tasksMu sync.Mutex
	tasks   = map[string]Task{
		"write":    taskWrite,
		"pingpong": taskPingPong,
		"wake":     taskWake,
		"tcpsink":  taskTCPSink,
	}
)

// Handle adds a task that workers of this binary can run, for benchmarks
// outside this package (call it before Child).
func Handle(verb string, t Task) {
	tasksMu.Lock()
	defer tasksMu.Unlock()
	tasks[verb] = t
}

// Child returns at once unless this process was started as a bench worker
// (ChildEnv set); then it serves the parent's tasks until its standard
// input ends, and exits. A binary that runs benchmarks with worker
// processes calls it first thing in main (or TestMain).
func Child() {
	if os.Getenv(ChildEnv) == "" {
		return
	}
	if err := serveTasks(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveTasks runs the worker protocol. The parent sends a line "VERB
// ARGS..."; the worker answers "ready" (or "error MSG" if it could not set
// up), waits for "go" (anything else calls the run off), works, and
// answers "done RESULT" or "error MSG". Then the next task.
func serveTasks(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	say := func(s string) error {
		if _, err := w.WriteString(s + "\n"); err != nil {
			return err
		}
		return w.Flush()
	}
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return nil
		}
		if err != nil {
			return err
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		tasksMu.Lock()
		t := tasks[f[0]]
		tasksMu.Unlock()
		readied := false
		ready := func() error {
			readied = true
			if err := say("ready"); err != nil {
				return err
			}
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.TrimSpace(l) != "go" {
				return errors.New("called off")
			}
			return nil
		}
		var res string
		if t == nil {
			err = fmt.Errorf("unknown task %q", f[0])
		} else {
			res, err = t(f[1:], ready)
		}
		if err != nil {
			res = "error " + strings.ReplaceAll(err.Error(), "\n", " ")
		} else {
			res = "done " + res
		}
		if !readied && err == nil {
			res = "error the task never got ready"
		}
		if err := say(res); err != nil {
			return err
		}
	}
}

// Worker is a child process running bench tasks.
type Worker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// StartWorkers starts n worker processes: this binary again, with
// ChildEnv set. The binary's main must call Child first.
func StartWorkers(n int) ([]*Worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var ws []*Worker
	for i := 0; i < n; i++ {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), ChildEnv+"=1")
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			StopWorkers(ws)
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			StopWorkers(ws)
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			StopWorkers(ws)
			return nil, fmt.Errorf("starting a bench worker: %w", err)
		}
		ws = append(ws, &Worker{cmd: cmd, in: in, out: bufio.NewReader(out)})
	}
	return ws, nil
}

// StopWorkers ends the workers' input, which ends them, and waits for them.
func StopWorkers(ws []*Worker) {
	for _, w := range ws {
		w.in.Close()
	}
	for _, w := range ws {
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
	}
}

func (w *Worker) send(line string) error {
	_, err := io.WriteString(w.in, line+"\n")
	return err
}

// answer reads the worker's next line: "ready", "done ..." or "error ...".
func (w *Worker) answer() (verb, rest string, err error) {
	l, err := w.out.ReadString('\n')
	if err != nil {
		return "", "", fmt.Errorf("bench worker %d: %w", w.cmd.Process.Pid, err)
	}
	l = strings.TrimSuffix(l, "\n")
	verb, rest, _ = strings.Cut(l, " ")
	if verb == "error" {
		return verb, rest, fmt.Errorf("bench worker %d: %s", w.cmd.Process.Pid, rest)
	}
	return verb, rest, nil
}

// Prepare gives the worker a task and waits until it is ready.
func (w *Worker) Prepare(verb string, args ...string) error {
	if err := w.send(strings.Join(append([]string{verb}, args...), " ")); err != nil {
		return err
	}
	v, _, err := w.answer()
	if err != nil {
		return err
	}
	if v != "ready" {
		return fmt.Errorf("bench worker %d: said %q, want ready", w.cmd.Process.Pid, v)
	}
	return nil
}

// callOff tells a ready worker not to start, and waits for its answer.
func (w *Worker) callOff() {
	if w.send("stop") == nil {
		w.answer()
	}
}

// Result waits for the worker's result line of the task it was given.
func (w *Worker) Result() (string, error) {
	v, rest, err := w.answer()
	if err != nil {
		return "", err
	}
	if v != "done" {
		return "", fmt.Errorf("bench worker %d: said %q, want done", w.cmd.Process.Pid, v)
	}
	return rest, nil
}

// lostAfter is how long Drive waits for consume once every worker has
// finished before it decides records were lost.
var lostAfter = 10 * time.Second

// Drive runs one timed round: it gives worker i the task verb with
// args[i], waits until all are ready, tells them all to go and runs
// consume in this goroutine. It returns the time from the go until
// consume returned and each worker's result. If a worker fails, or all
// finish and consume still waits after a while, Drive calls stop, which
// must make consume return.
func Drive(ws []*Worker, verb string, args [][]string, consume func() error, stop func()) (time.Duration, []string, error) {
	for i, w := range ws {
		if err := w.Prepare(verb, args[i]...); err != nil {
			for _, r := range ws[:i] {
				r.callOff()
			}
			return 0, nil, err
		}
	}
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	results := make([]string, len(ws))
	consumed := make(chan struct{})
	werr := make(chan error, 1)
	start := time.Now()
	for _, w := range ws {
		w.send("go")
	}
	go func() {
		var first error
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := w.Result()
				mu.Lock()
				defer mu.Unlock()
				results[i] = res
				if err != nil && first == nil {
					first = err
					stopOnce()
				}
			}()
		}
		wg.Wait()
		if first == nil {
			select {
			case <-consumed:
			case <-time.After(lostAfter):
				first = fmt.Errorf("all %d workers finished, but the reader still waits after %v: records lost", len(ws), lostAfter)
				stopOnce()
			}
		}
		werr <- first
	}()
	cerr := consume()
	el := time.Since(start)
	close(consumed)
	if cerr != nil {
		// The workers may be blocked writing to a reader that gave up.
		stopOnce()
	}
	if err := <-werr; err != nil {
		return 0, nil, err
	}
	if cerr != nil {
		return 0, nil, cerr
	}
	return el, results, nil
}
