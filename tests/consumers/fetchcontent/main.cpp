#include <babygpt/babygpt.hpp>
#include <iostream>

int main() {
    const babygpt::Tensorf t = babygpt::Tensorf::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    const float total = babygpt::sum(t).item();
    std::cout << "babygpt " << babygpt::version << ": sum = " << total << "\n";
    return total == 21.0f ? 0 : 1;
}
