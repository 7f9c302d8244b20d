package db

import "strings"

// pgCSV turns the export's SQLite expressions into PostgreSQL's: the separators as chr(),
// ifnull(x, empty text) as coalesce(x::text, empty text) (PostgreSQL will not mix a number and
// a text in one coalesce), and iif as CASE. concat_ws is the same on both: NULLs are left out, numbers written
// in decimal.
func pgCSV(q string) string {
	q = strings.ReplaceAll(q, "x'1f'", "chr(31)")
	q = strings.ReplaceAll(q, "x'1e'", "chr(30)")
	q = rewriteCalls(q, "ifnull(", func(args []string) string {
		if len(args) == 2 && strings.TrimSpace(args[1]) == "''" {
			return "coalesce((" + args[0] + ")::text, '')"
		}
		return "coalesce(" + strings.Join(args, ",") + ")"
	})
	return rewriteCalls(q, "iif(", func(args []string) string {
		if len(args) != 3 {
			return "iif(" + strings.Join(args, ",") + ")"
		}
		return "CASE WHEN " + args[0] + " THEN " + args[1] + " ELSE " + args[2] + " END"
	})
}

// rewriteCalls replaces every call name(args…) in q (innermost calls first) by what with
// returns for its arguments, split at their top-level commas.
func rewriteCalls(q, name string, with func(args []string) string) string {
	for {
		i := lastCall(q, name)
		if i < 0 {
			return q
		}
		start := i + len(name)
		args, end := splitArgs(q, start)
		if end < 0 {
			return q // unbalanced: leave it for the database to refuse
		}
		q = q[:i] + with(args) + q[end+1:]
	}
}

// lastCall finds the last name( in q that is a call of its own (not the tail of a longer name).
func lastCall(q, name string) int {
	for end := len(q); ; {
		i := strings.LastIndex(q[:end], name)
		if i < 0 {
			return -1
		}
		if i == 0 || !isIdentByte(q[i-1]) {
			return i
		}
		end = i
	}
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// splitArgs reads a call's arguments from q[start:] up to its closing parenthesis, whose index it
// returns (-1 if there is none).
func splitArgs(q string, start int) ([]string, int) {
	var args []string
	depth, quoted, from := 0, false, start
	for i := start; i < len(q); i++ {
		switch ch := q[i]; {
		case ch == '\'':
			quoted = !quoted
		case quoted:
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
		case ch == ')':
			return append(args, q[from:i]), i
		case ch == ',' && depth == 0:
			args = append(args, q[from:i])
			from = i + 1
		}
	}
	return nil, -1
}
