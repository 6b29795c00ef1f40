// bench/peers/go/main.go: Go net/http, standard library only, serving
// GET /json -> {"message":"Hello, World!"} for bench/compare.py. encoding/json renders the body on
// every request, as a Go service would; the server keeps Go's defaults (no idle timeout).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"
)

type message struct {
	Message string `json:"message"`
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(message{Message: "Hello, World!"}); err != nil {
		log.Print(err)
	}
}

func main() {
	port := flag.Int("port", 8000, "port on 127.0.0.1")
	flag.Parse()
	http.HandleFunc("/json", hello)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+strconv.Itoa(*port), nil))
}
