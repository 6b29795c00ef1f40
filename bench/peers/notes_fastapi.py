"""The notes API in FastAPI: the twin of examples/notes/ (issue 17), for the differential test and
the line count. Debian's python3-fastapi (0.92, pydantic v1) with python3-email-validator; SQLite
through the stdlib's sqlite3.

    /usr/bin/python3 bench/peers/notes_fastapi.py --host 127.0.0.1 --port P --db PATH
"""
import argparse
import secrets
import sqlite3
import threading
from typing import List, Optional

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, EmailStr, Extra, constr

app = FastAPI(title="Notes", version="1.0")
app.add_middleware(CORSMiddleware, allow_origins=["http://localhost:3000"],
                   allow_methods=["GET", "POST", "PATCH", "DELETE"],
                   allow_headers=["Authorization", "Content-Type"])
lock = threading.Lock()
db = None
NOTE_COLUMNS = "id, owner_id, title, body, done"


def query(sql, params=()):
    with lock:
        cur = db.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]


class UserIn(BaseModel):
    email: EmailStr
    name: constr(strip_whitespace=True, min_length=1, max_length=50)


class User(BaseModel):
    id: int
    email: str
    name: str


class NewUser(User):
    api_key: str


Title = constr(strip_whitespace=True, min_length=1, max_length=200)


class NoteIn(BaseModel, extra=Extra.forbid):
    title: Title
    body: constr(max_length=10000) = ""
    done: bool = False


class NotePatch(BaseModel, extra=Extra.forbid):
    title: Optional[Title]
    body: Optional[constr(max_length=10000)]
    done: Optional[bool]


class Note(BaseModel):
    id: int
    owner_id: int
    title: str
    body: str
    done: bool


bearer = HTTPBearer(description="The api_key POST /users gave")


def current_user(cred: HTTPAuthorizationCredentials = Depends(bearer)) -> int:
    rows = query("SELECT id FROM users WHERE api_key = ?", (cred.credentials,))
    if not rows:
        raise HTTPException(401, "Invalid authentication credentials",
                            headers={"WWW-Authenticate": "Bearer"})
    return rows[0]["id"]


def one(rows):
    if not rows:
        raise HTTPException(404, "Note not found")
    return rows[0]


@app.post("/users", status_code=201, response_model=NewUser, tags=["users"])
def create_user(user: UserIn):
    try:
        return query("INSERT INTO users (email, name, api_key) VALUES (?, ?, ?)"
                     " RETURNING id, email, name, api_key",
                     (user.email, user.name, secrets.token_hex(16)))[0]
    except sqlite3.IntegrityError:
        raise HTTPException(409, "Email already registered")


@app.get("/users/me", response_model=User, tags=["users"])
def me(owner: int = Depends(current_user)):
    return query("SELECT id, email, name FROM users WHERE id = ?", (owner,))[0]


@app.post("/notes", status_code=201, response_model=Note, tags=["notes"])
def create_note(note: NoteIn, owner: int = Depends(current_user)):
    return query("INSERT INTO notes (owner_id, title, body, done) VALUES (?, ?, ?, ?)"
                 f" RETURNING {NOTE_COLUMNS}", (owner, note.title, note.body, note.done))[0]


@app.post("/notes/form", status_code=201, response_model=Note, tags=["notes"])
def create_note_form(title: Title = Form(...), body: constr(max_length=10000) = Form(""),
                     done: bool = Form(False), owner: int = Depends(current_user)):
    return create_note(NoteIn(title=title, body=body, done=done), owner)


@app.get("/notes", response_model=List[Note], tags=["notes"])
def list_notes(offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=100),
               owner: int = Depends(current_user)):
    return query(f"SELECT {NOTE_COLUMNS} FROM notes WHERE owner_id = ? ORDER BY id"
                 " LIMIT ? OFFSET ?", (owner, limit, offset))


@app.get("/notes/{note_id}", response_model=Note, tags=["notes"])
def get_note(note_id: int, owner: int = Depends(current_user)):
    return one(query(f"SELECT {NOTE_COLUMNS} FROM notes WHERE id = ? AND owner_id = ?",
                     (note_id, owner)))


@app.patch("/notes/{note_id}", response_model=Note, tags=["notes"])
def patch_note(patch: NotePatch, note_id: int,
               owner: int = Depends(current_user)):
    sent = patch.dict(exclude_unset=True)
    return one(query("UPDATE notes SET title = COALESCE(?, title), body = COALESCE(?, body),"
                     " done = COALESCE(?, done) WHERE id = ? AND owner_id = ?"
                     f" RETURNING {NOTE_COLUMNS}",
                     (sent.get("title"), sent.get("body"), sent.get("done"), note_id, owner)))


@app.delete("/notes/{note_id}", status_code=204, tags=["notes"])
def delete_note(note_id: int, owner: int = Depends(current_user)):
    with lock:
        if db.execute("DELETE FROM notes WHERE id = ? AND owner_id = ?",
                      (note_id, owner)).rowcount == 0:
            raise HTTPException(404, "Note not found")
    return Response(status_code=204)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


def open_db(path):
    global db
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE);"
        "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL"
        " REFERENCES users(id), title TEXT NOT NULL, body TEXT NOT NULL, done INTEGER NOT NULL)")


if __name__ == "__main__":
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--db", default="notes_fastapi.db")
    args = ap.parse_args()
    open_db(args.db)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
