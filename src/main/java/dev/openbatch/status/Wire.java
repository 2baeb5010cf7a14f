package dev.openbatch.status;

import java.util.Collection;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How every status enum is spelled outside Java: its wire name (the constant's name in lower
 * case, as the database stores it and the API shows it), the constant a wire name stands for, and
 * SQL literals and lists of them for the stores' statements. One copy for {@link BatchStatus},
 * {@link LineState} and {@link DeliveryState}, so that no status is spelled by hand anywhere
 * else. The names are computed once per enum: reading one allocates nothing (results are written
 * and read line by line).
 */
public final class Wire {
    private static final ClassValue<String[]> NAMES = new ClassValue<>() {
        @Override
        protected String[] computeValue(Class<?> type) {
            Object[] constants = type.getEnumConstants();
            String[] out = new String[constants.length];
            for (int i = 0; i < constants.length; i++) {
                out[i] = ((Enum<?>) constants[i]).name().toLowerCase(Locale.ROOT);
            }
            return out;
        }
    };

    private static final ClassValue<Map<String, Object>> BY_NAME = new ClassValue<>() {
        @Override
        protected Map<String, Object> computeValue(Class<?> type) {
            Object[] constants = type.getEnumConstants();
            String[] names = NAMES.get(type);
            Map<String, Object> out = new HashMap<>(constants.length * 2);
            for (int i = 0; i < constants.length; i++) {
                out.put(names[i], constants[i]);
            }
            return out;
        }
    };

    private Wire() {
    }

    /** The wire name of {@code value}: its name in lower case. */
    public static String wire(Enum<?> value) {
        return NAMES.get(value.getDeclaringClass())[value.ordinal()];
    }

    /**
     * The constant of {@code type} that {@code wire} names, in any case; an
     * {@link IllegalArgumentException} when it names none.
     */
    public static <E extends Enum<E>> E of(Class<E> type, String wire) {
        Object known = BY_NAME.get(type).get(wire);
        return known != null ? type.cast(known) : Enum.valueOf(type, wire.toUpperCase(Locale.ROOT));
    }

    /** {@code 'name'}: a SQL literal of the value's wire name. */
    public static String quoted(Enum<?> value) {
        return "'" + wire(value) + "'";
    }

    /** {@code ('a', 'b')}: a SQL {@code in} list of these values' wire names, in the collection's order. */
    public static String sqlList(Collection<? extends Enum<?>> values) {
        StringBuilder sb = new StringBuilder("(");
        for (Enum<?> v : values) {
            sb.append(sb.length() > 1 ? ", " : "").append(quoted(v));
        }
        return sb.append(')').toString();
    }
}
