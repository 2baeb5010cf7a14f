package dev.openbatch.outbound;

import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.RequestOptions;

/**
 * HTTP exchanges with another server (a request sent, what the caller wants of its answer read)
 * on one of Vert.x's core HTTP clients, each as a {@link Uni} whose cancellation really aborts
 * the request. When the Uni is cancelled (a stopped batch, or a caller's deadline such as
 * {@code ifNoItem().after(...)}) or otherwise ends before the exchange does, the request is reset
 * (its stream or connection closed), so the other server's slot and the connection are freed at
 * once; a request still waiting for a connection at that moment is never sent. Whichever comes
 * first wins: the exchange's outcome or its cancellation, and the loser is ignored.
 * <p>
 * Everything specific to a caller stays with it: the client and its options, the request (address,
 * headers, idle timeout), and the {@link Reader} deciding what is read of the answer (size caps,
 * header checks). Owns the client it is given: {@link #close()} closes it.
 */
public final class Exchange {
    /** What a caller makes of an answer whose status and headers have arrived. */
    @FunctionalInterface
    public interface Reader<T> {
        /**
         * The outcome of the exchange, from {@code response}. To stop reading the body (too large,
         * not wanted), call {@code request.reset()}: the connection is closed and the rest never read.
         * The returned future may complete before the body has been read to its end.
         */
        Future<T> read(HttpClientRequest request, HttpClientResponse response);
    }

    private final HttpClient client;

    /** @param client the client every exchange goes through; closed by {@link #close()} */
    public Exchange(HttpClient client) {
        this.client = client;
    }

    /**
     * Sends a request with {@code options} once subscribed, and emits what {@code reader} makes of
     * the answer, or fails with why there was none (connection, TLS, idle timeout, a failure of the
     * reader's future). Cancelling the Uni resets the request as described above.
     *
     * @param body the request's body, asked for once a connection is there: a request waiting for
     *             one holds no copy of a large body, and one cancelled meanwhile never makes it
     */
    public <T> Uni<T> send(RequestOptions options, Supplier<Buffer> body, Reader<T> reader) {
        return Uni.createFrom().emitter(em -> {
            AtomicBoolean over = new AtomicBoolean();
            AtomicReference<HttpClientRequest> sent = new AtomicReference<>();
            em.onTermination(() -> {
                HttpClientRequest r = sent.get();
                if (over.compareAndSet(false, true) && r != null) {
                    r.reset(); // cancelled or timed out while in flight: abort the request
                }
            });
            client.request(options)
                    .compose(req -> {
                        sent.set(req);
                        if (over.get()) { // cancelled while waiting for a connection: never send it
                            req.reset();
                            return Future.<T>failedFuture(new CancellationException("cancelled before it was sent"));
                        }
                        return req.send(body.get()).compose(resp -> reader.read(req, resp));
                    })
                    .onComplete(ar -> {
                        if (!over.compareAndSet(false, true)) {
                            return; // already cancelled: nobody is listening any more
                        }
                        if (ar.succeeded()) {
                            em.complete(ar.result());
                        } else {
                            em.fail(ar.cause());
                        }
                    });
        });
    }

    /** Closes the client; exchanges in flight fail. */
    public void close() {
        client.close();
    }
}
