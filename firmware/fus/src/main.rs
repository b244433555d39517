#![no_std]
#![no_main]

use guest_rt as _;

core::arch::global_asm!(
    r#"
    .section .vector_table, "a"
    .global VECTORS
VECTORS:
    .word _stack_top
    .word Reset
    .rept 14
    .word DefaultHandler
    .endr
"#
);

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    loop {
        unsafe { core::arch::asm!("wfi") };
    }
}
