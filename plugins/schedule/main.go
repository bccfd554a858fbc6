// Command parlor-plugin-schedule is the event scheduling module: it opens
// and closes rooms on their timetables (the server API's roomOpen, the
// config file's rooms[].open_times, or an administrator in the web
// client), warns before a room closes, greets its opening, moves members
// out of a closing room (or keeps them read-only) and tells those who try
// to enter a closed room when it opens. docs/schedule.md describes it.
package main

import "github.com/parlorchat/parlor/sdk"

func main() {
	log := sdk.NewLogger("schedule")
	sdk.Serve(sdk.ServeOpts{Module: New(log, realClock{}), Logger: log})
}
