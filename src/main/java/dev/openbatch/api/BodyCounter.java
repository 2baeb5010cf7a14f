package dev.openbatch.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * Counts the bytes of one HTTP/1.x request body of unknown length (chunked) as they come off the
 * socket, in the connection's pipeline ahead of Vert.x, so that no reader further on (Jackson, the
 * upload's multipart reader) ever gets a byte past the limit.
 * <p>
 * The moment the count passes the limit, {@code over} runs (it answers 413). From then on nothing
 * reaches Vert.x (but, with {@code endWhenOver}, an end of the body, so that a reader which holds
 * an upload in progress finishes and rolls back; {@code over} marks the request so that nothing acts on it): what arrives is dropped, never kept, so that a client which writes its whole body
 * before it reads (most do) can still read the answer. Once the body has ended or {@code drain}
 * more bytes were dropped, the counter stops reading from the socket and {@code done} runs (it
 * closes the connection). Both run once, on the connection's event loop. A body within the limit
 * passes untouched, and the counter leaves the pipeline with its last chunk.
 */
final class BodyCounter extends ChannelInboundHandlerAdapter {
    static final String NAME = "openbatch-body-counter";

    private final long limit;
    private final boolean endWhenOver;
    private final long drain;
    private final Runnable over;
    private final Runnable done;
    private long seen;
    private long dropped;
    private boolean tripped;
    private boolean finished;

    BodyCounter(long limit, boolean endWhenOver, long drain, Runnable over, Runnable done) {
        this.limit = limit;
        this.endWhenOver = endWhenOver;
        this.drain = drain;
        this.over = over;
        this.done = done;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (tripped) {
            drop(ctx, msg);
            return;
        }
        if (!(msg instanceof HttpContent content)) {
            ctx.fireChannelRead(msg);
            return;
        }
        seen += content.content().readableBytes();
        if (seen > limit) {
            tripped = true;
            over.run();
            drop(ctx, msg);
            if (endWhenOver) {
                ctx.fireChannelRead(LastHttpContent.EMPTY_LAST_CONTENT);
            }
            return;
        }
        if (msg instanceof LastHttpContent) {
            ctx.pipeline().remove(this);
        }
        ctx.fireChannelRead(msg);
    }

    private void drop(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpContent content) {
            dropped += content.content().readableBytes();
        }
        boolean last = msg instanceof LastHttpContent;
        ReferenceCountUtil.release(msg);
        if (!finished && (last || dropped > drain)) {
            finished = true;
            ctx.channel().config().setAutoRead(false);
            done.run();
        }
    }
}
