# Makes moto_server apply each request atomically, as DynamoDB does for writes to one item.
# Used by the tests (tests/src/moto.rs) and by scripts/moto.sh; active only when AUCTION_MOTO_SERIALIZE=1.
# moto serves each request on its own thread and evaluates a ConditionExpression and applies the update with
# no lock, so two concurrent conditional writes can both pass one condition. This wraps the dispatcher in one
# process-wide lock and marks every response with an x-auction-tests-serialized header.
import logging
import os
import sys
import threading

if os.environ.pop("AUCTION_MOTO_SERIALIZE", None) == "1":
    # Keep the log to startup messages and errors (werkzeug logs every request at INFO).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        from moto.moto_server import werkzeug_app as _werkzeug_app
    except Exception as _e:  # not the interpreter that runs moto: change nothing
        sys.stderr.write("auction-tests sitecustomize: moto not importable: %r\n" % (_e,))
    else:
        # One lock around the whole dispatch: moto's DynamoDB backend evaluates a ConditionExpression and
        # applies the update without any locking, so concurrent threads could both pass one condition.
        _lock = threading.Lock()
        _dispatch = _werkzeug_app.DomainDispatcherApplication.__call__

        def _serialized(self, environ, start_response):
            def _start(status, headers, exc_info=None):
                return start_response(status, list(headers) + [("x-auction-tests-serialized", "1")], exc_info)

            with _lock:
                body = _dispatch(self, environ, _start)
                try:
                    return list(body)
                finally:
                    close = getattr(body, "close", None)
                    if close is not None:
                        close()

        _werkzeug_app.DomainDispatcherApplication.__call__ = _serialized

if os.environ.pop("AUCTION_MOTO_EXIT_WITH_STDIN", None) == "1":
    # Exit when the parent (the test process) exits and our stdin pipe closes.
    def _exit_with_parent():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except Exception:
            pass
        os._exit(0)

    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
