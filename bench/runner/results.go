package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Row is one line of the final table.
type Row struct {
	Metric   string `json:"metric"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Result   string `json:"result"` // PASS, FAIL, INFO or N/A
	VsFiber  string `json:"vsFiber,omitempty"`
	Note     string `json:"note,omitempty"`
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// infoRows turns every emitted PASS or FAIL into INFO (a pass measured for information only).
var infoRows bool

// emit prints a row and appends it to the results file, if one is given.
func emit(results string, r Row) error {
	if infoRows && (r.Result == "PASS" || r.Result == "FAIL") {
		r.Note = strings.TrimSpace(r.Note + " (would be " + r.Result + ")")
		r.Result = "INFO"
	}
	// A baseline binary measured in the same run (BENCH_BASELINE_BIN), or the three replicas
	// of a PostgreSQL run, have their rows named apart.
	if label := os.Getenv("BENCH_LABEL"); label != "" {
		r.Metric = label + ": " + r.Metric
	}
	// Rows measured on PostgreSQL (bench/run.sh with BENCH_DATABASE=postgres) say so.
	if engine := os.Getenv("BENCH_ENGINE"); engine != "" && engine != "sqlite" {
		r.Metric = engine + ": " + r.Metric
	}
	fmt.Printf("  %-44s %-12s %-40s %s %s\n", r.Metric, r.Target, r.Measured, r.Result, r.Note)
	if results == "" {
		return nil
	}
	f, err := os.OpenFile(results, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	b, _ := json.Marshal(r)
	_, err = f.Write(append(b, '\n'))
	return err
}

func cmdRow(args []string) error {
	fs := flag.NewFlagSet("row", flag.ExitOnError)
	var r Row
	results := fs.String("results", "", "results file")
	fs.StringVar(&r.Metric, "metric", "", "")
	fs.StringVar(&r.Target, "target", "", "")
	fs.StringVar(&r.Measured, "measured", "", "")
	fs.StringVar(&r.Result, "result", "INFO", "")
	fs.StringVar(&r.VsFiber, "vs", "", "")
	fs.StringVar(&r.Note, "note", "", "")
	fs.Parse(args)
	return emit(*results, r)
}

func readRows(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// cmdTable prints the results as an aligned text table, or as Markdown with -md.
func cmdTable(args []string) error {
	fs := flag.NewFlagSet("table", flag.ExitOnError)
	results := fs.String("results", "", "results file")
	md := fs.Bool("md", false, "Markdown")
	fs.Parse(args)
	rows, err := readRows(*results)
	if err != nil {
		return err
	}
	head := []string{"metric", "target", "measured", "result", "vs bare Fiber"}
	cells := [][]string{head}
	for _, r := range rows {
		m := r.Measured
		if r.Note != "" {
			m += " (" + r.Note + ")"
		}
		cells = append(cells, []string{r.Metric, r.Target, m, r.Result, r.VsFiber})
	}
	if *md {
		for i, c := range cells {
			for j := range c {
				c[j] = strings.ReplaceAll(c[j], "|", "\\|")
			}
			fmt.Println("| " + strings.Join(c, " | ") + " |")
			if i == 0 {
				fmt.Println("|---|---|---|---|---|")
			}
		}
		return nil
	}
	w := make([]int, len(head))
	for _, c := range cells {
		for j, s := range c {
			if n := len([]rune(s)); n > w[j] {
				w[j] = n
			}
		}
	}
	line := func(c []string) {
		var b strings.Builder
		for j, s := range c {
			b.WriteString(s + strings.Repeat(" ", w[j]-len([]rune(s))))
			if j < len(c)-1 {
				b.WriteString(" | ")
			}
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
	line(cells[0])
	sep := make([]string, len(head))
	for j := range sep {
		sep[j] = strings.Repeat("-", w[j])
	}
	line(sep)
	for _, c := range cells[1:] {
		line(c)
	}
	fail := 0
	for _, r := range rows {
		if r.Result == "FAIL" {
			fail++
		}
	}
	fmt.Printf("\n%d rows, %d FAIL\n", len(rows), fail)
	return nil
}
