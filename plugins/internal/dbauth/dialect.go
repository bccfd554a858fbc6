package dbauth

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect describes one database: the database/sql driver that talks to it,
// how it writes bind parameters and how it quotes identifiers. A plugin's
// main registers the driver (by importing it) and passes its dialects to
// Main.
type Dialect struct {
	// Name is the dialect's name in logs and in the `driver` key of a
	// plugin serving several dialects (sqlauth: postgres, sqlite).
	Name string
	// Aliases are other accepted values of the `driver` key.
	Aliases []string
	// Driver is the database/sql driver name passed to sql.Open.
	Driver string
	// Placeholder writes the n-th (1-based) bind parameter.
	Placeholder func(n int) string
	// PerOccurrence is true when every placeholder in the text consumes its
	// own argument (?, and Oracle's positional :n binding); false when the
	// number names the argument and may repeat ($1, @p1).
	PerOccurrence bool
	// Quote is the default identifier quoting (one of the Quote* values).
	Quote string
}

// Identifier quoting styles, also the values of the `identifier_quote`
// configuration key.
const (
	QuoteANSI     = "ansi"     // "name" (PostgreSQL, SQLite, Oracle, SQL Server with QUOTED_IDENTIFIER)
	QuoteBacktick = "backtick" // `name` (MySQL, MariaDB)
	QuoteBrackets = "brackets" // [name] (SQL Server, Access)
	QuoteUpper    = "upper"    // "NAME": Oracle, where unquoted names are stored in upper case
	QuoteUnquoted = "none"     // name, as validated, without quotes
)

// maxIdentLength bounds each part of a configured identifier.
const maxIdentLength = 128

// The dialects of the plugins.
var (
	// MySQL is MySQL and MariaDB through github.com/go-sql-driver/mysql.
	MySQL = Dialect{Name: "mysql", Aliases: []string{"mariadb"}, Driver: "mysql", Placeholder: question, PerOccurrence: true, Quote: QuoteBacktick}
	// Postgres is PostgreSQL through github.com/jackc/pgx/v5/stdlib.
	Postgres = Dialect{Name: "postgres", Aliases: []string{"postgresql", "pgx"}, Driver: "pgx", Placeholder: dollar, Quote: QuoteANSI}
	// SQLite is SQLite through modernc.org/sqlite.
	SQLite = Dialect{Name: "sqlite", Aliases: []string{"sqlite3"}, Driver: "sqlite", Placeholder: question, PerOccurrence: true, Quote: QuoteANSI}
	// MSSQL is Microsoft SQL Server through github.com/microsoft/go-mssqldb.
	MSSQL = Dialect{Name: "mssql", Aliases: []string{"sqlserver"}, Driver: "sqlserver", Placeholder: atP, Quote: QuoteBrackets}
	// Oracle is Oracle Database through github.com/sijms/go-ora/v2.
	Oracle = Dialect{Name: "oracle", Driver: "oracle", Placeholder: colonN, PerOccurrence: true, Quote: QuoteUpper}
	// ODBC is any database behind a unixODBC driver, through
	// github.com/alexbrainman/odbc. Its quoting depends on the database and
	// is set with `identifier_quote`.
	ODBC = Dialect{Name: "odbc", Driver: "odbc", Placeholder: question, PerOccurrence: true, Quote: QuoteANSI}
)

func question(int) string { return "?" }
func dollar(n int) string { return "$" + strconv.Itoa(n) }
func atP(n int) string    { return "@p" + strconv.Itoa(n) }
func colonN(n int) string { return ":" + strconv.Itoa(n) }

// String returns the dialect's name.
func (d Dialect) String() string { return d.Name }

// identPart is what one part of a table or column name may be: a letter or
// underscore, then letters, digits and underscores. Nothing else ever
// reaches SQL text from the configuration.
var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidIdentifier checks a configured table or column name: one to three
// dot-separated parts (schema.table, database.schema.table), each matching
// [A-Za-z_][A-Za-z0-9_]* and at most 128 characters long.
func ValidIdentifier(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 3 {
		return fmt.Errorf("identifier %q has more than three parts", name)
	}
	for _, p := range parts {
		if len(p) > maxIdentLength || !identPart.MatchString(p) {
			return fmt.Errorf("identifier %q: each dot-separated part must match [A-Za-z_][A-Za-z0-9_]* (at most %d characters)", name, maxIdentLength)
		}
	}
	return nil
}

// quoteIdentifier validates name and quotes each of its parts in style.
func quoteIdentifier(name, style string) (string, error) {
	if err := ValidIdentifier(name); err != nil {
		return "", err
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		switch style {
		case QuoteANSI:
			parts[i] = `"` + p + `"`
		case QuoteBacktick:
			parts[i] = "`" + p + "`"
		case QuoteBrackets:
			parts[i] = "[" + p + "]"
		case QuoteUpper:
			parts[i] = `"` + strings.ToUpper(p) + `"`
		case QuoteUnquoted:
		default:
			return "", fmt.Errorf("unknown identifier_quote %q (want ansi, backtick, brackets, upper or none)", style)
		}
	}
	return strings.Join(parts, "."), nil
}

// matches reports whether the `driver` configuration value names d.
func (d Dialect) matches(name string) bool {
	if strings.EqualFold(name, d.Name) {
		return true
	}
	for _, a := range d.Aliases {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}
