package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTicks is a process's user + system CPU time, in clock ticks (/proc/PID/stat).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after its closing parenthesis are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime (field 14)
	k, _ := strconv.ParseInt(f[12], 10, 64) // stime (field 15)
	return u + k, nil
}

// cmdWaitIdle waits until a process has used (almost) no CPU for a whole window: the server's
// catch-up jobs at start (a daily backup of the whole database among them) are done.
func cmdWaitIdle(args []string) error {
	fs := flag.NewFlagSet("waitidle", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	window := fs.Duration("window", 2*time.Second, "quiet window")
	maxTicks := fs.Int64("ticks", 2, "at most this many CPU ticks (1/100 s) in the window")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	fs.Parse(args)
	start := time.Now()
	prev, err := cpuTicks(*pid)
	if err != nil {
		return err
	}
	for time.Since(start) < *timeout {
		time.Sleep(*window)
		cur, err := cpuTicks(*pid)
		if err != nil {
			return err
		}
		if cur-prev <= *maxTicks {
			fmt.Printf("%.1f\n", time.Since(start).Seconds())
			return nil
		}
		prev = cur
	}
	return fmt.Errorf("process %d still busy after %s", *pid, *timeout)
}

// cmdRSS prints a process's VmRSS, VmHWM and RssFile (mapped files) in KiB.
func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	fs.Parse(args)
	m, err := procMemory(*pid)
	if err != nil {
		return err
	}
	fmt.Println(m.rss, m.hwm, m.rssFile)
	return nil
}

// cmdCPUTicks prints a process's user + system CPU time in clock ticks (1/100 s).
func cmdCPUTicks(args []string) error {
	fs := flag.NewFlagSet("cputicks", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	fs.Parse(args)
	t, err := cpuTicks(*pid)
	if err != nil {
		return err
	}
	fmt.Println(t)
	return nil
}
