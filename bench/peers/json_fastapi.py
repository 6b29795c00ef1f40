"""bench/peers/json_fastapi.py: FastAPI + uvicorn serving GET /json -> {"message":"Hello, World!"},
the seed's stack, run by bench/compare.py in two ways (and on PyPy when it can import them):

  plain: uvicorn's pure-Python defaults as Debian installs them (h11, asyncio loop, JSONResponse);
  --tuned: what the seed advises: uvloop, httptools, and a ujson response class.

One worker, access log off, keep-alive timeout raised so that the idle-connection test measures
memory rather than uvicorn closing its first connections after 5 s.

Run: python3 json_fastapi.py --port 8000 [--tuned] [--timeout-keep-alive 60]
"""

import argparse

from fastapi import FastAPI


def make_app(tuned):
    if tuned:
        from fastapi.responses import UJSONResponse

        app = FastAPI(default_response_class=UJSONResponse)
    else:
        app = FastAPI()

    @app.get("/json")
    def hello():
        return {"message": "Hello, World!"}

    return app


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--tuned", action="store_true", help="uvloop + httptools + ujson")
    ap.add_argument("--timeout-keep-alive", type=int, default=60)
    args = ap.parse_args()
    import uvicorn

    kwargs = {"loop": "uvloop", "http": "httptools"} if args.tuned else {"loop": "asyncio",
                                                                         "http": "h11"}
    uvicorn.run(make_app(args.tuned), host=args.host, port=args.port, log_level="warning",
                access_log=False, timeout_keep_alive=args.timeout_keep_alive, **kwargs)


if __name__ == "__main__":
    main()
