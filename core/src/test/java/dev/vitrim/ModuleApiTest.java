package dev.vitrim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The module descriptor is what a module-path user sees: the API packages exported, the tool's internals (data
 * sets, training, the evaluation harness) not, and no exported signature that names an internal type (a user could
 * not call it).
 */
class ModuleApiTest {
    private static final Path CLASSES = Path.of("target/classes");

    private static ModuleDescriptor descriptor() {
        return ModuleFinder.of(CLASSES).find("dev.vitrim.core").orElseThrow().descriptor();
    }

    private static Set<String> exported() {
        return descriptor().exports().stream()
                .filter(e -> !e.isQualified())
                .map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void theInternalPackagesAreNotExported() {
        Set<String> internal = new TreeSet<>(descriptor().packages());
        internal.removeAll(exported());
        assertThat(internal)
                .containsExactlyInAnyOrder("dev.vitrim.data", "dev.vitrim.data.scenes", "dev.vitrim.eval", "dev.vitrim.train");
        assertThat(exported()).contains("dev.vitrim.api", "dev.vitrim.reduce", "dev.vitrim.djl");
    }

    @Test
    void noExportedSignatureNamesAnInternalType() throws IOException, ClassNotFoundException {
        Set<String> exported = exported();
        Set<String> internal = new TreeSet<>(descriptor().packages());
        internal.removeAll(exported);
        List<String> leaks = new ArrayList<>();
        int checked = 0;
        for (Class<?> c : classesIn(exported)) {
            if (!visible(c)) {
                continue;
            }
            checked++;
            List<Type> types = new ArrayList<>();
            types.add(c.getGenericSuperclass());
            types.addAll(List.of(c.getGenericInterfaces()));
            for (Field f : c.getDeclaredFields()) {
                if (visible(f.getModifiers())) {
                    types.add(f.getGenericType());
                }
            }
            List<Executable> members = new ArrayList<>(List.of(c.getDeclaredConstructors()));
            members.addAll(List.of(c.getDeclaredMethods()));
            for (Executable m : members) {
                if (!visible(m.getModifiers()) || m.isSynthetic() || (m instanceof Method mm && mm.isBridge())) {
                    continue;
                }
                if (m instanceof Method mm) {
                    types.add(mm.getGenericReturnType());
                }
                types.addAll(List.of(m.getGenericParameterTypes()));
                types.addAll(List.of(m.getGenericExceptionTypes()));
            }
            for (Type t : types) {
                for (Class<?> named : named(t)) {
                    if (internal.contains(named.getPackageName())) {
                        leaks.add(c.getName() + " -> " + named.getName());
                    }
                }
            }
        }
        assertThat(checked).as("public types checked").isGreaterThan(50);
        assertThat(leaks).as("exported signatures naming internal types").isEmpty();
    }

    private static boolean visible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()) {
                return false;
            }
        }
        return true;
    }

    private static boolean visible(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    private static List<Class<?>> named(Type t) {
        List<Class<?>> out = new ArrayList<>();
        if (t instanceof Class<?> c) {
            while (c.isArray()) {
                c = c.getComponentType();
            }
            out.add(c);
        } else if (t instanceof ParameterizedType p) {
            out.addAll(named(p.getRawType()));
            for (Type a : p.getActualTypeArguments()) {
                out.addAll(named(a));
            }
        } else if (t instanceof GenericArrayType g) {
            out.addAll(named(g.getGenericComponentType()));
        } else if (t instanceof WildcardType w) {
            for (Type b : w.getUpperBounds()) {
                out.addAll(named(b));
            }
            for (Type b : w.getLowerBounds()) {
                out.addAll(named(b));
            }
        } else if (t instanceof TypeVariable<?> v) {
            for (Type b : v.getBounds()) {
                out.addAll(named(b));
            }
        }
        return out;
    }

    private static List<Class<?>> classesIn(Set<String> packages) throws IOException, ClassNotFoundException {
        List<Class<?>> out = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(CLASSES)) {
            files = s.filter(p -> p.toString().endsWith(".class")).collect(Collectors.toList());
        }
        for (Path f : files) {
            String name = CLASSES.relativize(f).toString().replace('/', '.').replaceAll("\\.class$", "");
            int dot = name.lastIndexOf('.');
            if (dot < 0 || !packages.contains(name.substring(0, dot)) || name.endsWith("package-info")) {
                continue;
            }
            out.add(Class.forName(name, false, ModuleApiTest.class.getClassLoader()));
        }
        return out;
    }
}
