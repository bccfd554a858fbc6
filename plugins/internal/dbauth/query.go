package dbauth

import (
	"fmt"
	"strings"
)

// Query parameters a custom query may name.
const (
	ParamUsername = "username"
	ParamPassword = "password"
	ParamGroup    = "group"
	ParamRemoteIP = "remote_ip"
)

// Result fields: the columns of the table mapping, and the column names
// (or aliases) a custom query answers with.
const (
	FieldPassword    = "password"
	FieldPasswordOK  = "password_ok"
	FieldSalt        = "salt"
	FieldAdmin       = "admin"
	FieldBanned      = "banned"
	FieldDisplayName = "display_name"
	FieldEmail       = "email"
)

// Statement is a query ready for the driver: SQL text with the dialect's
// placeholders and, in order, the named parameters to bind to them.
type Statement struct {
	// SQL is the text sent to the database.
	SQL string
	// Params names the argument of each bind position.
	Params []string
	// Fields names the result columns by position for a table mapping; nil
	// for a custom query, whose columns are matched by name.
	Fields []string
}

// Args returns the bind arguments for one login attempt.
func (s Statement) Args(values map[string]string) []any {
	args := make([]any, len(s.Params))
	for i, p := range s.Params {
		args[i] = values[p]
	}
	return args
}

// Columns is the table mapping's column names.
type Columns struct {
	User        string `json:"user"`
	Password    string `json:"password"`
	Salt        string `json:"salt"`
	Admin       string `json:"admin"`
	Banned      string `json:"banned"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
}

// BuildTableQuery writes the lookup of one user by name from table and
// cols, each identifier validated and quoted in style. Only the user name
// is a parameter; nothing else varies.
func BuildTableQuery(d Dialect, style, table string, cols Columns) (Statement, error) {
	if table == "" {
		return Statement{}, fmt.Errorf("table is empty")
	}
	if cols.User == "" || cols.Password == "" {
		return Statement{}, fmt.Errorf("columns.user and columns.password are required with a table")
	}
	qt, err := quoteIdentifier(table, style)
	if err != nil {
		return Statement{}, fmt.Errorf("table: %w", err)
	}
	qu, err := quoteIdentifier(cols.User, style)
	if err != nil {
		return Statement{}, fmt.Errorf("columns.user: %w", err)
	}
	selected := []struct{ field, col string }{
		{FieldPassword, cols.Password},
		{FieldSalt, cols.Salt},
		{FieldAdmin, cols.Admin},
		{FieldBanned, cols.Banned},
		{FieldDisplayName, cols.DisplayName},
		{FieldEmail, cols.Email},
	}
	var list []string
	var fields []string
	for _, s := range selected {
		if s.col == "" {
			continue
		}
		q, err := quoteIdentifier(s.col, style)
		if err != nil {
			return Statement{}, fmt.Errorf("columns.%s: %w", s.field, err)
		}
		list = append(list, q)
		fields = append(fields, s.field)
	}
	return Statement{
		SQL:    "SELECT " + strings.Join(list, ", ") + " FROM " + qt + " WHERE " + qu + " = " + d.Placeholder(1),
		Params: []string{ParamUsername},
		Fields: fields,
	}, nil
}

// BuildCustomQuery rewrites a custom query's named parameters (:username,
// :password, :group, :remote_ip) into the dialect's placeholders. Text in
// quotes and comments is left alone, as is PostgreSQL's :: cast. The query
// must name :username; an unknown :name is an error.
func BuildCustomQuery(d Dialect, query string) (Statement, error) {
	var b strings.Builder
	var params []string
	index := map[string]int{}
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := closing(query, i+1, c)
			if end < 0 {
				return Statement{}, fmt.Errorf("query: unterminated %c quote", c)
			}
			b.WriteString(query[i : end+1])
			i = end + 1
		case c == '-' && i+1 < n && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = n - i
			}
			b.WriteString(query[i : i+end])
			i += end
		case c == '/' && i+1 < n && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				return Statement{}, fmt.Errorf("query: unterminated /* comment")
			}
			b.WriteString(query[i : i+2+end+2])
			i += 2 + end + 2
		case c == ':' && i+1 < n && query[i+1] == ':':
			b.WriteString("::")
			i += 2
		case c == ':' && i+1 < n && identStart(query[i+1]):
			j := i + 1
			for j < n && identChar(query[j]) {
				j++
			}
			name := strings.ToLower(query[i+1 : j])
			switch name {
			case ParamUsername, ParamPassword, ParamGroup, ParamRemoteIP:
			default:
				return Statement{}, fmt.Errorf("query: unknown parameter :%s (want :username, :password, :group or :remote_ip)", query[i+1:j])
			}
			pos, seen := index[name]
			if d.PerOccurrence || !seen {
				params = append(params, name)
				pos = len(params)
				index[name] = pos
			}
			b.WriteString(d.Placeholder(pos))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	if _, ok := index[ParamUsername]; !ok {
		return Statement{}, fmt.Errorf("query: must select the user with :username")
	}
	return Statement{SQL: strings.TrimSpace(b.String()), Params: params}, nil
}

// closing finds the quote character q that ends a quoted run starting at
// from; a doubled quote is an escaped one.
func closing(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		if s[i] == '\\' && q != '`' && i+1 < len(s) {
			i++ // MySQL's backslash escape inside strings
			continue
		}
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i
		}
	}
	return -1
}

func identStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func identChar(c byte) bool { return identStart(c) || '0' <= c && c <= '9' }
